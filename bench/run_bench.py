"""`make bench`: time a full `moatmetrics run` from files to a published snapshot, the floor
and the API under load; write bench/results/<date>-<scale>.json and log rows in
docs/benchmarks.md.

    .venv/bin/python bench/run_bench.py --scale 1m               # pipeline + floor + API
    .venv/bin/python bench/run_bench.py --scale 1m --with-10m    # and the 10m pipeline
    .venv/bin/python bench/run_bench.py --scale 10m --no-api     # 10m only
    .venv/bin/python bench/run_bench.py --api-only               # API on the 1m snapshot

Everything it creates lives in bench/work/ (git-ignored): demo data per scale (generated once
and reused; deterministic per seed), one MOATMETRICS_HOME per scale (wiped before each run,
so every run starts from empty state), logs and the floor's DuckDB file.
See docs/benchmarks.md for the method and the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from measure import run_measured, wait_for_quiet
from stages import run_stages

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
WORK = HERE / "work"
RESULTS = HERE / "results"
DOC = REPO / "docs" / "benchmarks.md"
SEED = 42

TARGETS = {
    "1m": {"total_s": 30.0, "aim_s": 15.0, "peak_mb": 2048.0},
    "10m": {"total_s": 180.0, "peak_mb": 6144.0},
    "small": {"total_s": 30.0, "peak_mb": 2048.0},
}
FLOOR_RATIO_TARGET = 3.0
NO_CHANGE_TARGET_S = 5.0  # issue 14: a run with no new files
ONE_MORE_DAY_TARGET_S = 15.0  # issue 14: the 10m warehouse plus one more day of files
API_TARGETS = {"p50_ms_at_50": 20.0, "p99_ms_at_1000": 200.0, "errors": 0}


# ------------------------------------------------------------------------------ machine
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    cpu = re.search(r"model name\s*:\s*(.+)", _read("/proc/cpuinfo"))
    mem = re.search(r"MemTotal:\s*(\d+) kB", _read("/proc/meminfo"))
    distro = re.search(r'PRETTY_NAME="([^"]+)"', _read("/etc/os-release"))
    disk = shutil.disk_usage(WORK if WORK.exists() else REPO)
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu": cpu.group(1).strip() if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "os": distro.group(1) if distro else platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {
            p: _version(p)
            for p in (
                "duckdb",
                "dbt-core",
                "dbt-duckdb",
                "dagster",
                "dagster-dbt",
                "fastapi",
                "uvicorn",
            )
        },
        "disk_free_gib": round(disk.free / 2**30, 1),
        "commit": _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else ""),
    }


def machine_label(info: dict) -> str:
    cpu = re.sub(r"\s+", " ", re.sub(r"\((R|TM)\)|CPU|Processor", "", info["cpu"])).strip()
    return f"{info['cores']} cores {cpu}, {info['memory_gib']} GiB, {info['os']}"


# ------------------------------------------------------------------------------ pipeline
def ensure_data(scale: str) -> tuple[Path, float | None]:
    """The demo data of a scale, generated once (deterministic) and reused."""
    data = WORK / f"data-{scale}"
    marker = data / ".complete"
    if marker.exists() and marker.read_text().strip() == f"{scale} seed={SEED}":
        return data, None
    shutil.rmtree(data, ignore_errors=True)
    print(f"generating the {scale} demo data in {data} ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "moatmetrics"),
            "demo-data",
            "--scale",
            scale,
            "--seed",
            str(SEED),
            "--out",
            str(data),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - t0
    marker.write_text(f"{scale} seed={SEED}\n")
    return data, seconds


def fresh_home(scale: str, data: Path) -> Path:
    home = WORK / f"home-{scale}"
    shutil.rmtree(home, ignore_errors=True)
    landing = home / "landing"
    landing.mkdir(parents=True)
    for path in sorted(data.glob("*.csv")):
        try:
            os.link(path, landing / path.name)  # the pipeline only reads landing files
        except OSError:
            shutil.copyfile(path, landing / path.name)
    return home


def current_snapshot(home: Path) -> Path | None:
    pointer = home / "snapshots" / "CURRENT"
    if not pointer.exists():
        return None
    manifest = json.loads((home / "snapshots" / f"{pointer.read_text().strip()}.json").read_text())
    return home / "snapshots" / manifest["file"]


def _data_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(2**24), b"")) - 1


QUIET_WAIT_S = 600.0  # set from --quiet-wait


def upload_limit_overrides(data: Path) -> dict[str, str]:
    """The settings a run of `data` needs beyond the defaults.

    The 10m time_entries.csv (~630 MiB) is over the default 512 MiB upload limit; the limit is
    a documented setting, raised here (and recorded) so the file is not refused.
    """
    largest = max(p.stat().st_size for p in data.glob("*.csv"))
    if largest > 512 * 2**20 and "MOATMETRICS_MAX_UPLOAD_BYTES" not in os.environ:
        return {"MOATMETRICS_MAX_UPLOAD_BYTES": str(2 * largest)}
    return {}


def bench_pipeline(scale: str) -> dict:
    data, generated_s = ensure_data(scale)
    input_rows = {p.stem: _data_rows(p) for p in sorted(data.glob("*.csv"))}
    input_mb = sum(p.stat().st_size for p in data.glob("*.csv")) / 2**20
    home = fresh_home(scale, data)
    env = dict(os.environ, MOATMETRICS_HOME=str(home))
    overrides = upload_limit_overrides(data)
    env.update(overrides)
    log = WORK / f"run-{scale}.log"
    quiet = wait_for_quiet(QUIET_WAIT_S)
    print(f"[{scale}] moatmetrics run (from empty state) ...", flush=True)
    run, timing = timed_run(home, env, log)
    output = log.read_text()
    snapshot = current_snapshot(home)
    result: dict = {
        "scale": scale,
        "seed": SEED,
        "input": {
            "rows": input_rows,
            "total_rows": sum(input_rows.values()),
            "csv_mb": round(input_mb, 1),
            "generated_in_s": generated_s,
        },
        "pipeline": {
            "command": "moatmetrics run",
            "env_overrides": overrides,
            "returncode": run.returncode,
            "wall_s": round(run.wall_s, 3),
            "peak_tree_rss_mb": round(run.peak_tree_rss_mb, 1),
            "max_single_rss_mb": round(run.max_single_rss_mb, 1),
            "peak_processes": run.peak_processes,
            "cpu_user_s": round(run.user_cpu_s, 2),
            "cpu_system_s": round(run.system_cpu_s, 2),
            "other_cpu_s": round(run.other_cpu_s, 2),
            "machine_before": quiet,
            "contended": run.other_cpu_s > max(0.1 * run.wall_s, 1.0),
            "log": str(log.relative_to(REPO)),
            "published_snapshot": snapshot.name if snapshot else None,
            **timing,
        },
    }
    print(
        f"[{scale}] pipeline: {run.wall_s:.1f} s, peak {run.peak_tree_rss_mb:.0f} MB"
        f" (exit {run.returncode}; other processes used {run.other_cpu_s:.1f} CPU s)",
        flush=True,
    )
    if run.returncode != 0 or snapshot is None:
        print(output[-3000:], file=sys.stderr)
        return result

    result["no_change"] = bench_no_change(scale, env, snapshot)

    floor_db = WORK / f"floor-{scale}.duckdb"
    floor_out = WORK / f"floor-{scale}.json"
    floor_quiet = wait_for_quiet(QUIET_WAIT_S)
    print(f"[{scale}] floor (hand-written DuckDB SQL) ...", flush=True)
    floor_run = run_measured(
        [
            sys.executable,
            str(HERE / "floor.py"),
            "--data",
            str(data),
            "--warehouse",
            str(home / "warehouse.duckdb"),
            "--snapshot",
            str(snapshot),
            "--out",
            str(floor_db),
        ],
        stdout=floor_out,
    )
    lines = floor_out.read_text().strip().splitlines()
    try:
        floor = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result["floor"] = {"error": "\n".join(lines[-5:]), "returncode": floor_run.returncode}
        print(f"[{scale}] floor failed: see {floor_out}", flush=True)
        return result
    floor.update(
        process_wall_s=round(floor_run.wall_s, 3),
        other_cpu_s=round(floor_run.other_cpu_s, 2),
        machine_before=floor_quiet,
        contended=floor_run.other_cpu_s > max(0.1 * floor_run.wall_s, 1.0),
        peak_tree_rss_mb=round(floor_run.peak_tree_rss_mb, 1),
        identical_marts=all(
            v.get("only_floor") == 0 and v.get("only_snapshot") == 0
            for v in floor.get("equal_to_snapshot", {}).values()
        ),
    )
    floor_db.unlink(missing_ok=True)
    result["floor"] = floor
    work = timing.get("steps_span_s")
    dbt_s = timing["stages"]["dbt"]["seconds"]
    result["ratios"] = {
        "pipeline_excl_startup_over_floor": round(work / floor["total_s"], 2) if work else None,
        "dbt_stage_over_floor_marts": round(dbt_s / floor["marts_s"], 2),
        "ingest_stage_over_floor_load": round(
            timing["stages"]["ingest"]["seconds"] / floor["load_s"], 2
        ),
    }
    print(
        f"[{scale}] floor: {floor['total_s']:.2f} s (load {floor['load_s']:.2f}, marts"
        f" {floor['marts_s']:.2f}); identical marts: {floor['identical_marts']}",
        flush=True,
    )
    # after the floor, which compares its marts with the cold run's warehouse and snapshot
    result["one_more_day"] = bench_one_more_day(scale, env, data)
    # then the next day, inside the month the first one opened: the daily run of most days
    result["day_within_month"] = bench_one_more_day(scale, env, data, days_after=2)
    return result


def refuse_refused_files(log: Path) -> None:
    """Stop the bench when the run refused a file: it went on without the file's rows and
    measured less than the data (a 10m time_entries.csv over the upload limit did once)."""
    refused = re.findall(r"^  (.+: rejected — .*)$", log.read_text(), re.MULTILINE)
    if refused:
        raise SystemExit(f"the run refused input files; see {log}:\n" + "\n".join(refused))


def timed_run(home: Path, env: dict[str, str], log: Path) -> tuple:
    """`moatmetrics run` in `home`, measured, with its steps' times from Dagster's event log."""
    run = run_measured([str(BIN / "moatmetrics"), "run"], env=env, stdout=log)
    refuse_refused_files(log)
    match = re.search(r"^run ([0-9a-f-]{36}):", log.read_text(), re.MULTILINE)
    timing = run_stages(
        home / "dagster",
        match.group(1) if match else None,
        run.started_at,
        run.started_at + run.wall_s,
    )
    return run, timing


def bench_no_change(scale: str, env: dict[str, str], served: Path) -> dict:
    """The same `moatmetrics run` again with nothing new: it must end early, publish nothing."""
    log = WORK / f"run-{scale}-no-change.log"
    wait_for_quiet(QUIET_WAIT_S)
    print(f"[{scale}] moatmetrics run again, nothing new ...", flush=True)
    run = run_measured([str(BIN / "moatmetrics"), "run"], env=env, stdout=log)
    after = current_snapshot(Path(env["MOATMETRICS_HOME"]))
    output = log.read_text()
    print(f"[{scale}] no-change run: {run.wall_s:.2f} s (exit {run.returncode})", flush=True)
    return {
        "command": "moatmetrics run",
        "returncode": run.returncode,
        "wall_s": round(run.wall_s, 3),
        "peak_tree_rss_mb": round(run.peak_tree_rss_mb, 1),
        "published_new": after != served,
        "ended_early": "no run: nothing new since snapshot" in output,
        "log": str(log.relative_to(REPO)),
    }


def one_more_day(data: Path, out: Path, days_after: int = 1) -> dict[str, int]:
    """The day `days_after` the demo's last: its last day's time entries and invoices again,
    under new ids and dated that many days later (what a daily export adds). Written by DuckDB.

    The demo ends on a month's last day, so the first day after it also completes that month
    (what happens once a month); the second is a day like the others of a month."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    rows = {}
    for entity, date_column, ids in (
        ("time_entries", "work_date", ("entry_id",)),
        ("invoices", "invoice_date", ("invoice_id",)),
    ):
        source = f"read_csv('{data / f'{entity}.csv'}', all_varchar = true, header = true)"
        prefix = "NEXT-" if days_after == 1 else f"NEXT{days_after}-"
        renamed = ", ".join(f"'{prefix}' || {column} AS {column}" for column in ids)
        dated = f"CAST(CAST({date_column} AS DATE) + {days_after} AS VARCHAR) AS {date_column}"
        suffix = "next_day" if days_after == 1 else f"day_{days_after}_after"
        target = out / f"{entity}_{suffix}.csv"
        con.execute(
            f"COPY (SELECT * REPLACE ({renamed}, {dated}) FROM {source}"
            f" WHERE {date_column} = (SELECT max({date_column}) FROM {source}))"
            f" TO '{target}' (HEADER, DELIMITER ',')"
        )
        rows[entity] = _data_rows(target)
    return rows


def bench_one_more_day(scale: str, env: dict[str, str], data: Path, days_after: int = 1) -> dict:
    """One more day of files into the built home: only the months it touches are rebuilt."""
    home = Path(env["MOATMETRICS_HOME"])
    rows = one_more_day(data, home / "landing", days_after)
    case = "one more day" if days_after == 1 else "a day within the month"
    log = WORK / f"run-{scale}-{case.replace(' ', '-')}.log"
    wait_for_quiet(QUIET_WAIT_S)
    print(f"[{scale}] moatmetrics run with {case} ({rows}) ...", flush=True)
    run, timing = timed_run(home, env, log)
    print(
        f"[{scale}] {case}: {run.wall_s:.2f} s, peak {run.peak_tree_rss_mb:.0f} MB"
        f" (exit {run.returncode})",
        flush=True,
    )
    return {
        "command": "moatmetrics run",
        "rows": rows,
        "returncode": run.returncode,
        "wall_s": round(run.wall_s, 3),
        "peak_tree_rss_mb": round(run.peak_tree_rss_mb, 1),
        "other_cpu_s": round(run.other_cpu_s, 2),
        "log": str(log.relative_to(REPO)),
        **timing,
    }


# ------------------------------------------------------------------------------ verdicts
def _verdict(
    metric: str,
    target: str,
    measured: float | None,
    limit: float,
    unit: str,
    lower_is_better: bool = True,
) -> dict:
    if measured is None:
        return {
            "metric": metric,
            "target": target,
            "measured": None,
            "pass": False,
            "miss_by": "not measured",
        }
    ok = measured <= limit if lower_is_better else measured >= limit
    miss = None if ok else f"{measured - limit:+.1f} {unit} ({measured / limit:.1f}x the target)"
    return {
        "metric": metric,
        "target": target,
        "measured": f"{measured:.1f} {unit}",
        "pass": ok,
        "miss_by": miss,
    }


def pipeline_verdicts(result: dict) -> list[dict]:
    scale = result["scale"]
    target = TARGETS[scale]
    pipe = result["pipeline"]
    rows = []
    if pipe["returncode"] != 0:
        return [
            {
                "metric": f"{scale} run",
                "target": "completes",
                "measured": "failed",
                "pass": False,
                "miss_by": f"exit {pipe['returncode']}",
            }
        ]
    rows.append(
        _verdict(
            f"{scale} end to end (files to published snapshot)",
            f"<= {target['total_s']:.0f} s",
            pipe["wall_s"],
            target["total_s"],
            "s",
        )
    )
    if "aim_s" in target:
        rows.append(
            _verdict(
                f"{scale} end to end, aim",
                f"<= {target['aim_s']:.0f} s",
                pipe["wall_s"],
                target["aim_s"],
                "s",
            )
        )
    rows.append(
        _verdict(
            f"{scale} peak memory (process tree RSS)",
            f"<= {target['peak_mb'] / 1024:.0f} GB",
            pipe["peak_tree_rss_mb"],
            target["peak_mb"],
            "MB",
        )
    )
    quiet = result.get("no_change")
    if quiet:
        ended = quiet["returncode"] == 0 and quiet["ended_early"] and not quiet["published_new"]
        row = _verdict(
            f"{scale} run with nothing new (ends early, publishes nothing)",
            f"<= {NO_CHANGE_TARGET_S:.0f} s",
            quiet["wall_s"] if ended else None,
            NO_CHANGE_TARGET_S,
            "s",
        )
        if not ended:
            row["miss_by"] = "it rebuilt, published or failed: see " + quiet["log"]
        rows.append(row)
    for key, case in (
        ("one_more_day", "one more day of files (completes a month)"),
        ("day_within_month", "a day of files within a month"),
    ):
        day = result.get(key)
        if not day:
            continue
        row = _verdict(
            f"{scale} warehouse + {case}",
            f"<= {ONE_MORE_DAY_TARGET_S:.0f} s",
            day["wall_s"] if day["returncode"] == 0 else None,
            ONE_MORE_DAY_TARGET_S,
            "s",
        )
        if day["returncode"] != 0:
            row["miss_by"] = "the run failed: see " + day["log"]
        rows.append(row)
    ratio = result.get("ratios", {}).get("pipeline_excl_startup_over_floor")
    rows.append(
        _verdict(
            f"{scale} pipeline excl. start-up / floor",
            f"<= {FLOOR_RATIO_TARGET}x",
            ratio,
            FLOOR_RATIO_TARGET,
            "x",
        )
    )
    return rows


def api_verdicts(api: dict) -> list[dict]:
    """Issue 15's targets, per worker count (they are stated for two workers):

    - open loop (1000 connections, 300 req/s): p99 <= 200 ms, no error;
    - BI refresh at 50 connections: p50 <= 20 ms, and at least half of `/health`'s req/s;
    - analyst at 50 connections: >= 500 req/s and p50 <= 100 ms;
    - every scenario at 1000 connections (closed loop): no error, p99 <= 2 s;
    - the whole license_utilization mart as Parquet: >= 5x faster than as CSV, <= a tenth of
      its bytes.

    A scenario in which no request completed within the test window has no latency: it is a
    miss ("none completed"), not a pass with 0 ms.
    """
    rows = []
    for workers in sorted({s["workers"] for s in api["scenarios"]}):
        mine = [s for s in api["scenarios"] if s["workers"] == workers]
        found = {(s["scenario"], s.get("connections")): s for s in mine}
        label = f"API, {workers} worker(s)"

        def latency(row: dict | None, pct: str) -> float | None:
            return None if row is None or not row["requests"] else row["latency_ms"][pct]

        loop = found.get(("open_loop_80bi_20analyst", 1000))
        rows.append(
            _verdict(f"{label}: open loop 300 req/s, p99", "<= 200 ms", latency(loop, "p99"),
                     200.0, "ms")
        )  # fmt: skip
        health, bi = found.get(("health", 50)), found.get(("bi_refresh", 50))
        rows.append(
            _verdict(f"{label}: BI refresh at 50, p50", "<= 20 ms", latency(bi, "p50"), 20.0, "ms")
        )
        if health and bi:
            half = health["rps"] / 2
            rows.append(
                _verdict(f"{label}: BI refresh at 50, req/s", f">= half of /health ({half:.0f})",
                         bi["rps"], half, "req/s", lower_is_better=False)
            )  # fmt: skip
        analyst = found.get(("analyst", 50))
        rows.append(
            _verdict(f"{label}: analyst at 50, req/s", ">= 500 req/s",
                     analyst["rps"] if analyst else None, 500.0, "req/s", lower_is_better=False)
        )  # fmt: skip
        rows.append(
            _verdict(f"{label}: analyst at 50, p50", "<= 100 ms", latency(analyst, "p50"),
                     100.0, "ms")
        )  # fmt: skip
        for scenario in ("bi_refresh", "analyst", "export_csv", "export_parquet"):
            row = found.get((scenario, 1000))
            if row is None:
                continue
            rows.append(
                _verdict(f"{label}: {scenario} at 1000, p99", "<= 2000 ms", latency(row, "p99"),
                         2000.0, "ms")
            )  # fmt: skip
        errors = sum(s["errors"] for s in mine)
        stuck = sorted({s["scenario"] for s in mine if not s["requests"]})
        rows.append(
            {
                "metric": f"{label}: errors in every scenario",
                "target": "0",
                "measured": str(errors) + (f" (none completed: {stuck})" if stuck else ""),
                "pass": errors == 0 and not stuck,
                "miss_by": None if errors == 0 and not stuck else f"{errors} errors",
            }
        )
        export = api.get("full_export", {}).get(f"{workers}w")
        if export:
            rows.append(
                _verdict(f"{label}: whole mart as Parquet, speed-up over CSV", ">= 5x",
                         export["parquet_speedup"], 5.0, "x", lower_is_better=False)
            )  # fmt: skip
            rows.append(
                _verdict(f"{label}: whole mart as Parquet, share of the CSV bytes", "<= 0.1",
                         export["parquet_bytes_share"], 0.1, "")
            )  # fmt: skip
    return rows


# ------------------------------------------------------------------------------ output
def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{payload['date']}-{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def append_row(marker: str, header: list[str], row: list[str]) -> None:
    """Append a row to the table after ``<!-- marker -->`` in docs/benchmarks.md."""
    line = "| " + " | ".join(row) + " |"
    tag = f"<!-- {marker} -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    if tag not in text:
        lines += [
            "",
            tag,
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
    at = lines.index(tag) + 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, line)
    DOC.write_text("\n".join(lines) + "\n")


PIPELINE_HEADER = [
    "date",
    "scale",
    "commit",
    "machine",
    "total s",
    "start-up s",
    "ingest s",
    "quality checks s",
    "dbt s",
    "scoring s",
    "publish s",
    "peak RSS MB",
    "floor s",
    "pipeline/floor",
]
API_HEADER = [
    "date",
    "commit",
    "machine",
    "generator",
    "workers",
    "scenario",
    "connections",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
]


def log_pipeline(payload: dict) -> None:
    pipe = payload["pipeline"]
    stages = pipe.get("stages", {})

    def stage(name: str) -> str:
        info = stages.get(name)
        return f"{info['seconds']:.1f}" if info and info["present"] else "absent"

    floor = payload.get("floor", {})
    append_row(
        "bench:pipeline-log",
        PIPELINE_HEADER,
        [
            payload["date"],
            payload["scale"],
            payload["machine"]["commit"],
            machine_label(payload["machine"]),
            (
                f"{pipe['wall_s']:.1f}"
                if pipe["returncode"] == 0
                else f"failed ({pipe['wall_s']:.0f})"
            )
            + (
                f" (contended: {pipe['other_cpu_s']:.0f} CPU s elsewhere)"
                if pipe.get("contended")
                else ""
            ),
            f"{pipe.get('startup_s', 0):.1f}",
            stage("ingest"),
            stage("quality_checks"),
            stage("dbt"),
            stage("scoring"),
            stage("publish"),
            f"{pipe['peak_tree_rss_mb']:.0f}",
            f"{floor['total_s']:.2f}" if floor else "-",
            f"{payload['ratios']['pipeline_excl_startup_over_floor']:.1f}x"
            if payload.get("ratios")
            else "-",
        ],
    )


def log_api(payload: dict) -> None:
    api = payload["api"]
    for s in api["scenarios"]:
        lat = s["latency_ms"]
        append_row(
            "bench:api-log",
            API_HEADER,
            [
                payload["date"],
                payload["machine"]["commit"],
                machine_label(payload["machine"]),
                s["generator"],
                str(s["workers"]),
                s["scenario"],
                str(s["connections"]),
                f"{s['rps']:.0f}",
                *(
                    [f"{lat['p50']:.1f}", f"{lat['p95']:.1f}", f"{lat['p99']:.1f}"]
                    if s["requests"]
                    else ["none completed"] * 3
                ),
                str(s["errors"]),
            ],
        )


def print_verdicts(rows: list[dict]) -> None:
    for row in rows:
        mark = "PASS" if row["pass"] else "MISS"
        extra = f"  (miss by {row['miss_by']})" if row["miss_by"] else ""
        print(f"  {mark}  {row['metric']}: {row['measured']} [target {row['target']}]{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description="MoatMetrics benchmarks (see docs/benchmarks.md)")
    parser.add_argument("--scale", choices=sorted(TARGETS), default="1m")
    parser.add_argument("--with-10m", action="store_true", help="also run the 10m pipeline")
    parser.add_argument("--no-api", action="store_true", help="skip the API load test")
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="only the API load test, on the last published snapshot of --scale",
    )
    parser.add_argument("--api-duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--api-connections", default="50,1000")
    parser.add_argument("--api-workers", default="1,2", help="uvicorn worker counts to try")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-docs", action="store_true", help="do not log rows in the docs")
    parser.add_argument(
        "--attempts",
        type=int,
        default=2,
        choices=range(1, 6),
        help="measure a pipeline again (up to this many times) when other processes competed"
        " for the CPU; the least disturbed attempt is kept",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=600.0,
        help="seconds to wait at most for an idle machine before each measurement",
    )
    args = parser.parse_args()
    global QUIET_WAIT_S
    QUIET_WAIT_S = args.quiet_wait
    if not 1 <= args.api_duration <= 120:
        parser.error("--api-duration must be 1..120 seconds")

    WORK.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    verdicts: list[dict] = []
    scales = [] if args.api_only else [args.scale]
    if args.with_10m and "10m" not in scales:
        scales.append("10m")
    for scale in scales:
        result = bench_pipeline(scale)
        tries = [result]
        while result["pipeline"].get("contended") and len(tries) < args.attempts:
            print(f"[{scale}] other processes competed for the CPU: measuring again", flush=True)
            result = bench_pipeline(scale)
            tries.append(result)
        result = min(tries, key=lambda r: r["pipeline"].get("other_cpu_s", 0.0))
        result["attempts"] = [
            {k: t["pipeline"].get(k) for k in ("wall_s", "other_cpu_s", "contended")} for t in tries
        ]
        payload = {
            "date": today,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            **result,
        }
        payload["targets"] = pipeline_verdicts(result)
        verdicts += payload["targets"]
        path = write_json(scale, payload)
        print(f"[{scale}] results: {path.relative_to(REPO)}")
        if not args.no_docs:
            log_pipeline(payload)

    if not args.no_api:
        from api_load import api_benchmark

        home = WORK / f"home-{args.scale}"
        snapshot = current_snapshot(home)
        if snapshot is None:
            print(
                f"no published snapshot in {home}: run the {args.scale} pipeline first",
                file=sys.stderr,
            )
            return 1
        print(f"API load on the {args.scale} snapshot {snapshot.name} ...", flush=True)
        api = api_benchmark(
            home,
            snapshot,
            WORK / "api",
            connections=[int(c) for c in args.api_connections.split(",")],
            duration=args.api_duration,
            workers=[int(w) for w in args.api_workers.split(",")],
            generator=args.generator,
        )
        payload = {
            "date": today,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": info,
            "scale": args.scale,
            "api": api,
        }
        payload["targets"] = api_verdicts(api)
        verdicts += payload["targets"]
        path = write_json("api", payload)
        print(f"API results: {path.relative_to(REPO)}")
        if not args.no_docs:
            log_api(payload)

    print("targets:")
    print_verdicts(verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
