"""What encryption at rest costs: the 1m demo from files to a published snapshot, plain and
encrypted, in the same session (not a timed test; docs/benchmarks.md, "Encryption at rest").

Each variant runs `moatmetrics run` in a fresh home on the same data, alternating plain and
encrypted `--repeat` times so both see the same machine; the figure is the ratio of their
median wall times, plus a full read of the snapshot's marts (what a BI export does) each way.

DuckDB writes encrypted files with OpenSSL from its httpfs extension when it is installed, else
(`MOATMETRICS_DUCKDB_CRYPTO=mbedtls-unsafe`) with its built-in module; the result records
which one ran, since OpenSSL's AES is the faster of the two.

    .venv/bin/python bench/encryption_cost.py [--scale 1m] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from measure import run_measured, wait_for_quiet
from run_bench import BIN, WORK, current_snapshot, ensure_data, fresh_home, machine_info

from moatmetrics.at_rest.duckdb_files import httpfs_installed

HERE = Path(__file__).resolve().parent


def _read_marts(snapshot: Path, key: str | None) -> float:
    """Seconds to read every row of every mart (a full export's DuckDB side)."""
    con = duckdb.connect()
    options = f"ENCRYPTION_KEY '{key}', READ_ONLY" if key else "READ_ONLY"
    started = time.perf_counter()
    con.execute(f"ATTACH '{snapshot}' AS snap ({options})")
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_catalog = 'snap' AND table_schema = 'marts'"
    ).fetchall()
    for (table,) in tables:
        con.execute(f"SELECT * FROM snap.marts.{table}").to_arrow_table()
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def _one_run(scale: str, data: Path, key_file: Path | None, crypto: str) -> dict:
    home = fresh_home(scale, data)
    env = dict(os.environ, MOATMETRICS_HOME=str(home))
    env.pop("MOATMETRICS_ENCRYPTION_KEY_FILE", None)
    if key_file is not None:
        env |= {
            "MOATMETRICS_ENCRYPTION_KEY_FILE": str(key_file),
            "MOATMETRICS_DUCKDB_CRYPTO": crypto,
        }
    quiet = wait_for_quiet(300)
    log = WORK / f"encryption-{'on' if key_file else 'off'}-{scale}.log"
    run = run_measured([str(BIN / "moatmetrics"), "run"], env=env, stdout=log)
    snapshot = current_snapshot(home)
    if run.returncode != 0 or snapshot is None:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise SystemExit(f"moatmetrics run failed (exit {run.returncode}); see {log}")
    key = key_file.read_text().strip() if key_file else None
    return {
        "encrypted": key_file is not None,
        "wall_s": round(run.wall_s, 3),
        "peak_tree_rss_mb": round(run.peak_tree_rss_mb, 1),
        "other_cpu_s": round(run.other_cpu_s, 2),
        "machine_before": quiet,
        "warehouse_mb": round((home / "warehouse.duckdb").stat().st_size / 2**20, 1),
        "snapshot_mb": round(snapshot.stat().st_size / 2**20, 1),
        "read_marts_s": round(min(_read_marts(snapshot, key) for _ in range(3)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", default="1m")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data, _ = ensure_data(args.scale)
    crypto = "openssl" if httpfs_installed() else "mbedtls-unsafe"
    key_file = WORK / "encryption-bench.key"
    if not key_file.exists():
        subprocess.run([str(BIN / "moatmetrics"), "encryption", "new-key", str(key_file)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    runs: list[dict] = []
    for i in range(args.repeat):
        for key in (None, key_file):
            print(f"[{args.scale}] run {i + 1}: {'encrypted' if key else 'plain'} ...", flush=True)
            runs.append(_one_run(args.scale, data, key, crypto))
            print(f"    {runs[-1]['wall_s']:.1f} s", flush=True)

    def median(encrypted: bool, field: str) -> float:
        return statistics.median(r[field] for r in runs if r["encrypted"] is encrypted)

    summary = {
        "plain_wall_s": median(False, "wall_s"),
        "encrypted_wall_s": median(True, "wall_s"),
        "wall_ratio": round(median(True, "wall_s") / median(False, "wall_s"), 3),
        "plain_read_marts_s": median(False, "read_marts_s"),
        "encrypted_read_marts_s": median(True, "read_marts_s"),
        "read_ratio": round(median(True, "read_marts_s") / median(False, "read_marts_s"), 3),
    }
    payload = {
        "benchmark": "encryption_cost",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "duckdb_crypto": crypto,
        "machine": machine_info(),
        "runs": runs,
        "summary": summary,
    }
    out = (
        args.out or HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-{args.scale}-encryption.json"
    )
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
