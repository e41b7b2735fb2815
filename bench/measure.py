"""Run a command and measure wall time and peak memory of its whole process tree.

Peak memory is reported two ways, both including child processes (dbt runs as a subprocess
of `moatmetrics run`):

- ``peak_tree_rss_mb``: the largest *sum* of resident set sizes over the command's process
  tree (the command and every descendant alive at that instant), sampled from /proc every
  ``interval`` seconds. This is the figure compared with the targets: it is what the machine
  must hold at once. Being sampled, it can miss a peak shorter than the interval.
- ``max_single_rss_mb``: the kernel's exact high-water mark (``ru_maxrss`` from ``wait4``) of
  the largest single process among the command and its waited-for descendants; a lower bound
  of the above, never sampled.

The machine is shared (other sessions run test suites on the same two cores), so every
measurement also records ``other_cpu_s``: CPU time the whole machine spent outside the measured
process tree while it ran (/proc/stat minus the tree's rusage). ``wait_for_quiet`` holds a
measurement back until the machine has been idle for a few seconds (bounded wait).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    returncode: int
    started_at: float  # epoch seconds just before the process was spawned
    wall_s: float
    peak_tree_rss_mb: float
    max_single_rss_mb: float
    peak_processes: int
    user_cpu_s: float
    system_cpu_s: float
    other_cpu_s: float


_TICK = os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores) since boot."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def wait_for_quiet(max_wait_s: float = 600.0, window_s: float = 3.0, busy: float = 0.3) -> dict:
    """Wait (at most ``max_wait_s``) until the machine is idle: under ``busy`` cores in use,
    averaged over ``window_s``. Returns how long it waited and the last busy level seen."""
    t0 = time.monotonic()
    while True:
        before = busy_cpu_seconds()
        time.sleep(window_s)
        level = (busy_cpu_seconds() - before) / window_s
        waited = time.monotonic() - t0
        if level < busy or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "busy_cores": round(level, 2),
                    "quiet": level < busy}  # fmt: skip


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_rss(root: int) -> tuple[int, int]:
    """(resident bytes, number of processes) of ``root`` and all its descendants."""
    children = _children_map()
    total, count, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * _PAGE
            count += 1
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(pid, ()))
    return total, count


def run_measured(
    argv: list[str],
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
    interval: float = 0.05,
    timeout_s: float = 1800.0,
) -> Measured:
    """Run ``argv`` to completion (killed after ``timeout_s``) and measure it."""
    peak = {"rss": 0, "procs": 0}
    done = threading.Event()
    out = open(stdout, "w") if stdout else subprocess.DEVNULL  # noqa: SIM115
    started_at = time.time()
    busy_before = busy_cpu_seconds()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def sample() -> None:
        while not done.is_set():
            rss, procs = tree_rss(proc.pid)
            if rss > peak["rss"]:
                peak["rss"], peak["procs"] = rss, procs
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
    finally:
        done.set()
        sampler.join()
        if stdout:
            out.close()
    wall = time.perf_counter() - t0
    busy = busy_cpu_seconds() - busy_before
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        started_at=started_at,
        wall_s=wall,
        peak_tree_rss_mb=peak["rss"] / 2**20,
        max_single_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        peak_processes=peak["procs"],
        user_cpu_s=usage.ru_utime,
        system_cpu_s=usage.ru_stime,
        other_cpu_s=max(0.0, busy - usage.ru_utime - usage.ru_stime),
    )
