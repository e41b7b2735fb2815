"""Where a daily run's time goes: a cold run, then days of files after it, with dbt's node times.

    .venv/bin/python bench/profile_days.py --scale 1m cold 2 3
    .venv/bin/python bench/profile_days.py --scale 1m --moatmetrics ../old/.venv/bin/moatmetrics \
        --home bench/work/days-old cold 2 3      # the same days with another checkout's code

Steps are `cold` (a new home, every demo file landed) and day numbers N (the demo's last
day's time entries and invoices again, N days later: `run_bench.one_more_day`; the demo ends
on a month's last day, so day 1 completes a month and day 2 and later are days inside one).
Each step is one `moatmetrics run`; printed: its wall time, dbt's node count, model and test
node time, dbt's elapsed time and the slowest nodes (dbt's `run_results.json`). With
`--moatmetrics` the runs use another installation, so two versions are compared on the same
machine and data, one after the other. `--json` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from run_bench import (
    BIN,
    WORK,
    ensure_data,
    one_more_day,
    refuse_refused_files,
    upload_limit_overrides,
)


def _step(moatmetrics: str, home: Path, label: str, top: int, data: Path) -> dict:
    # as `make bench` runs it: at 10m the upload limit is raised, or the time entries are refused
    env = {
        **os.environ,
        "MOATMETRICS_HOME": str(home),
        "DO_NOT_TRACK": "1",
        **upload_limit_overrides(data),
    }
    log = home.parent / f"{home.name}-{label}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(
            [moatmetrics, "run"], env=env, check=True, stdout=out, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - started
    refuse_refused_files(log)
    results = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
    nodes = sorted(((r["execution_time"], r["unique_id"]) for r in results), reverse=True)
    figures = {
        "step": label,
        "wall_s": round(wall, 2),
        "dbt_nodes": len(nodes),
        "dbt_model_s": round(sum(t for t, uid in nodes if not uid.startswith("test.")), 2),
        "dbt_test_s": round(sum(t for t, uid in nodes if uid.startswith("test.")), 2),
        "slowest": [[uid, round(t, 2)] for t, uid in nodes[:top]],
    }
    print(
        f"== {label}: {wall:.1f} s; dbt {len(nodes)} nodes, models {figures['dbt_model_s']} s,"
        f" tests {figures['dbt_test_s']} s",
        flush=True,
    )
    for uid, seconds in figures["slowest"]:
        print(f"   {seconds:6.2f} {uid}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("steps", nargs="+", help="cold, or a day number (1 = the day after)")
    parser.add_argument("--scale", default="1m")
    parser.add_argument("--home", type=Path, help="default: bench/work/days-<scale>")
    parser.add_argument("--moatmetrics", default=str(BIN / "moatmetrics"))
    parser.add_argument("--top", type=int, default=12, help="slowest dbt nodes shown")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    data, _ = ensure_data(args.scale)
    home = (args.home or WORK / f"days-{args.scale}").resolve()
    figures = []
    for step in args.steps:
        if step == "cold":
            shutil.rmtree(home, ignore_errors=True)
            (home / "landing").mkdir(parents=True)
            for path in sorted(data.glob("*.csv")):
                shutil.copyfile(path, home / "landing" / path.name)
        else:
            one_more_day(data, home / "landing", int(step))
        figures.append(
            _step(args.moatmetrics, home, f"day{step}" if step != "cold" else step, args.top, data)
        )
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "steps": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
