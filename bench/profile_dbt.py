"""What dbt costs and what would make it cheaper: `dbt build` variants on a bench warehouse.

    .venv/bin/python bench/profile_dbt.py                 # on bench/work/home-1m's warehouse

Runs the dbt CLI directly (no Dagster) on a copy of the warehouse a `run_bench.py` run left,
once per variant, and reports wall time, dbt's own start-up (process start to first node)
and per-node execution by kind. Also times `dbt --version`, which dagster-dbt runs before
every build. Writes bench/results/<date>-dbt-variants.json. Nothing in the repo changes: the
variants are command-line flags.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from measure import run_measured, wait_for_quiet

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DBT = Path(sys.executable).with_name("dbt")
PROJECT = REPO / "dbt_project"

VARIANTS: dict[str, list[str]] = {
    "build (as the pipeline runs it: threads 1)": ["build"],
    "build --threads 2": ["build", "--threads", "2"],
    "build without unit tests": ["build", "--exclude-resource-type", "unit_test"],
    "build --threads 2 without unit tests": [
        "build",
        "--threads",
        "2",
        "--exclude-resource-type",
        "unit_test",
    ],  # fmt: skip
    "run (models only)": ["run"],
    "run --threads 2 (models only)": ["run", "--threads", "2"],
}


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def run_variant(name: str, args: list[str], warehouse: Path, work: Path) -> dict:
    target = work / "target"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    partial = PROJECT / "target" / "partial_parse.msgpack"
    if partial.exists():  # dagster-dbt copies it too, so parsing is partial as in the pipeline
        shutil.copyfile(partial, target / "partial_parse.msgpack")
    copy = work / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    env = dict(
        os.environ,
        MOATMETRICS_WAREHOUSE_PATH=str(copy),
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    argv = [
        str(DBT), "--no-use-colors", "--no-send-anonymous-usage-stats", *args,
        "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
        "--target", "duckdb", "--target-path", str(target),
    ]  # fmt: skip
    quiet = wait_for_quiet(max_wait_s=120)
    measured = run_measured(argv, env=env, stdout=work / "dbt.log")
    results = json.loads((target / "run_results.json").read_text())
    kinds: Counter = Counter()
    counts: Counter = Counter()
    starts = []
    for node in results["results"]:
        kind = node["unique_id"].split(".")[0]
        kinds[kind] += node["execution_time"]
        counts[kind] += 1
        starts += [_iso(t["started_at"]) for t in node.get("timing", []) if t.get("started_at")]
    failed = [n["unique_id"] for n in results["results"] if n["status"] in ("error", "fail")]
    return {
        "variant": name,
        "args": args,
        "returncode": measured.returncode,
        "wall_s": round(measured.wall_s, 2),
        "startup_s": round(min(starts) - measured.started_at, 2) if starts else None,
        "nodes": dict(counts),
        "node_execution_s": {k: round(v, 2) for k, v in kinds.items()},
        "peak_tree_rss_mb": round(measured.peak_tree_rss_mb, 1),
        "failed": failed,
        "other_cpu_s": round(measured.other_cpu_s, 2),
        "machine_before": quiet,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse", type=Path, default=HERE / "work" / "home-1m" / "warehouse.duckdb"
    )
    parser.add_argument("--repeat", type=int, default=2, choices=range(1, 4))
    args = parser.parse_args()
    if not args.warehouse.exists():
        parser.error(f"{args.warehouse} not found: run `bench/run_bench.py --scale 1m` first")
    work = HERE / "work" / "dbt-variants"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()
    wait_for_quiet(max_wait_s=120)
    version = run_measured([str(DBT), "--version"], stdout=work / "version.log")
    rows.append({"variant": "dbt --version (dagster-dbt runs it before each build)",
                 "wall_s": round(version.wall_s, 2),
                 "output": (work / "version.log").read_text()[:400]})  # fmt: skip
    print(f"{rows[0]['variant']}: {rows[0]['wall_s']} s", flush=True)
    for name, variant in VARIANTS.items():
        tries = [run_variant(name, variant, args.warehouse, work) for _ in range(args.repeat)]
        # the machine is shared: keep the attempt least disturbed by other processes
        row = min(tries, key=lambda r: r["other_cpu_s"])
        row["walls_s"] = [t["wall_s"] for t in tries]
        rows.append(row)
        print(
            f"{name}: {row['wall_s']} s (dbt start-up {row['startup_s']} s,"
            f" nodes {row['node_execution_s']}, other CPU {row['other_cpu_s']} s)",
            flush=True,
        )
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    out = HERE / "results" / f"{today}-dbt-variants.json"
    out.write_text(
        json.dumps(
            {"date": today, "warehouse": str(args.warehouse.relative_to(REPO)), "rows": rows,
             "total_s": round(time.perf_counter() - t0, 1)},
            indent=2,
        ) + "\n"
    )  # fmt: skip
    print(f"results: {out.relative_to(REPO)}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
