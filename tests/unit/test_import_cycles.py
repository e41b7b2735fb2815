"""No module of the three packages imports, directly or through others, a module that imports it;
no package of the core library does either.

A cycle is how a "small" import turns into a knot: modules that can only be read, tested and
loaded together, and a partially initialised module at import time when the order changes.
The layer contracts (`test_layer_contracts.py`) keep the layers one-way; this keeps every
module one-way, lazy imports inside functions included (grimp, which import-linter uses, sees
them too), and every package of `moatmetrics` (`moatmetrics.ingest`, `moatmetrics.contract`,
`moatmetrics.snapshots`...: modules grouped by their first two dotted parts). Packages can form
a cycle while their modules do not (the contract's readers importing ingest's scopes, while
ingest's loader imports the readers), and then no package can be read, moved or layered
without the others. The packages are read from a copy, so a test can add a cycle and show the
check finds it: a check that cannot fail checks nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("moatmetrics", "orchestration", "api")

#: Prints each cycle (its members, sorted) found by Tarjan's strongly connected components: of
#: modules, or, after `--packages-of ROOT`, with ROOT's modules grouped by package (the first two
#: dotted parts: `moatmetrics.ingest.loader` is `moatmetrics.ingest`; a module directly in ROOT
#: stands for itself) and every other module as it is.
_FIND_CYCLES = """
import sys
import grimp

args = sys.argv[1:]
root = None
if args[0] == "--packages-of":
    root, args = args[1], args[2:]
graph = grimp.build_graph(*args, include_external_packages=False)

def node(module):
    parts = module.split(".")
    return ".".join(parts[:2]) if root is not None and parts[0] == root else module

imports = {}
for module in graph.modules:
    targets = imports.setdefault(node(module), set())
    for imported in graph.find_modules_directly_imported_by(module):
        imports.setdefault(node(imported), set())
        if node(imported) != node(module):
            targets.add(node(imported))
index, low, stack, on_stack, cycles = {}, {}, [], set(), []

def visit(start):
    work = [(start, iter(sorted(imports[start])))]
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
                work.append((target, iter(sorted(imports[target]))))
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

for member in sorted(imports):
    if member not in index:
        visit(member)
for cycle in cycles:
    print(" <-> ".join(cycle))
"""


def _cycles(root: Path, *grouping: str) -> list[str]:
    """The cycles of modules in the packages under `root`; of packages with `grouping`
    (`"--packages-of", "moatmetrics"`)."""
    result = subprocess.run(
        [sys.executable, "-c", _FIND_CYCLES, *grouping, *PACKAGES],
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


def test_no_package_of_the_core_is_part_of_an_import_cycle(tmp_path: Path) -> None:
    assert _cycles(_copy(tmp_path), "--packages-of", "moatmetrics") == []


def test_a_cycle_of_packages_whose_modules_form_none_is_found(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    # The data contract is below ingest (ingest's loader reads files with the contract's
    # readers); ingest's scopes import nothing of the contract, so this closes no module cycle,
    # but the two packages now import each other (and with them every package in between).
    readers = tree / "moatmetrics" / "contract" / "readers.py"
    readers.write_text(
        readers.read_text(encoding="utf-8")
        + "\n\ndef _closes_a_cycle():\n    from moatmetrics.ingest import scopes  # noqa: F401\n",
        encoding="utf-8",
    )
    assert _cycles(tree) == []
    found = _cycles(tree, "--packages-of", "moatmetrics")
    assert len(found) == 1, found
    assert "moatmetrics.contract" in found[0].split(" <-> ")
    assert "moatmetrics.ingest" in found[0].split(" <-> ")
