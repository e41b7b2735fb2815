"""No module of the three packages imports, directly or through others, a module that imports it.

A cycle is how a "small" import turns into a knot: modules that can only be read, tested and
loaded together, and a partially initialised module at import time when the order changes.
The layer contracts (`test_layer_contracts.py`) keep the layers one-way; this keeps every
module one-way, lazy imports inside functions included (grimp, which import-linter uses, sees
them too). The packages are read from a copy, so the second test can add a cycle and show the
check finds it: a check that cannot fail checks nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("moatmetrics", "orchestration", "api")

#: Prints each cycle (its modules, sorted) found by Tarjan's strongly connected components.
_FIND_CYCLES = """
import sys
import grimp

graph = grimp.build_graph(*sys.argv[1:], include_external_packages=False)
index, low, stack, on_stack, cycles = {}, {}, [], set(), []

def visit(start):
    work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
        module, targets = work[-1]
        for target in targets:
            if target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                break
            if target in on_stack:
                low[module] = min(low[module], index[target])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

for module in sorted(graph.modules):
    if module not in index:
        visit(module)
for cycle in cycles:
    print(" <-> ".join(cycle))
"""


def _cycles(root: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _FIND_CYCLES, *PACKAGES],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout.splitlines()


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_no_module_is_part_of_an_import_cycle(tmp_path: Path) -> None:
    assert _cycles(_copy(tmp_path)) == []


def test_a_lazy_import_that_closes_a_cycle_is_found(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    # The settings are imported by nearly everything; a lazy import back is the classic knot.
    settings = tree / "moatmetrics" / "settings.py"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + "\n\ndef _closes_a_cycle():\n    from moatmetrics import snapshots  # noqa: F401\n",
        encoding="utf-8",
    )
    found = _cycles(tree)
    assert len(found) == 1, found
    assert "moatmetrics.settings" in found[0].split(" <-> ")
    assert "moatmetrics.snapshots" in found[0].split(" <-> ")
