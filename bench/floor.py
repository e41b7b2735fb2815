"""The floor: the least work that turns the same inputs into the same published marts.

Run as its own process (``python bench/floor.py --data DIR --warehouse FILE --snapshot FILE
--out FILE``); prints one JSON object. Three timed parts, all in one DuckDB connection:

1. ``load_s``: the export files into typed columnar tables with DuckDB's CSV reader (types
   from the data contract; no validation, no archive, no bookkeeping);
2. ``marts_s``: ``bench/floor.sql`` over the pipeline's raw tables (the same rows dbt reads),
   writing the three marts;
3. ``write_s``: committing them to a new DuckDB file (what publishing does).

Then, untimed, the floor's marts are compared row for row with the published snapshot's
(``EXCEPT ALL`` both ways): the floor only counts if it computes the same numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
MARTS = ("client_profitability", "license_utilization", "staff_utilization")


def _contract_types() -> dict[str, dict[str, str]]:
    """Column -> SQL type per entity, from the data contract (kept in one place)."""
    from moatmetrics.contract.entities import ENTITIES, SQL_TYPES

    return {
        name: {col.name: SQL_TYPES[col.type] for col in entity.columns}
        for name, entity in ENTITIES.items()
    }


def load_files(con: duckdb.DuckDBPyConnection, data_dir: Path) -> dict[str, int]:
    types = _contract_types()
    con.execute("CREATE SCHEMA IF NOT EXISTS loaded")
    counts: dict[str, int] = {}
    for path in sorted(data_dir.glob("*.csv")):
        entity = path.stem
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        known = types.get(entity, {})
        columns = {name: known.get(name, "VARCHAR") for name in header}
        con.execute(
            f"CREATE OR REPLACE TABLE loaded.{entity} AS SELECT * FROM read_csv(?, header = true,"
            " auto_detect = false, columns = ?, dateformat = '%Y-%m-%d')",
            [str(path), columns],
        )
        counts[entity] = con.execute(f"SELECT count(*) FROM loaded.{entity}").fetchone()[0]
    return counts


def compare(con: duckdb.DuckDBPyConnection, snapshot: Path) -> dict[str, dict]:
    """Rows only in the floor / only in the snapshot, per mart (0 and 0 = identical).

    Compared on the floor's columns (the metric definitions); columns the pipeline adds after
    the marts (confidence, explanations, review flags) are listed, not compared.
    """
    con.execute(f"ATTACH '{snapshot}' AS snap (READ_ONLY)")
    out: dict[str, dict] = {}
    for mart in MARTS:
        floor_cols = [r[0] for r in con.execute(f"DESCRIBE marts.{mart}").fetchall()]
        snap_cols = [r[0] for r in con.execute(f"DESCRIBE snap.marts.{mart}").fetchall()]
        missing = [c for c in floor_cols if c not in snap_cols]
        if missing:
            out[mart] = {"error": f"snapshot lacks columns {missing}"}
            continue
        cols = ", ".join(f'"{c}"' for c in floor_cols)
        only_floor = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM marts.{mart}"
            f" EXCEPT ALL SELECT {cols} FROM snap.marts.{mart})"
        ).fetchone()[0]
        only_snapshot = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM snap.marts.{mart}"
            f" EXCEPT ALL SELECT {cols} FROM marts.{mart})"
        ).fetchone()[0]
        rows = con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0]
        out[mart] = {
            "rows": rows,
            "only_floor": only_floor,
            "only_snapshot": only_snapshot,
            "columns_compared": len(floor_cols),
            "snapshot_columns_not_compared": [c for c in snap_cols if c not in floor_cols],
        }
    con.execute("DETACH snap")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of the export CSVs")
    parser.add_argument("--warehouse", required=True, type=Path, help="pipeline warehouse")
    parser.add_argument("--snapshot", type=Path, help="published snapshot to compare with")
    parser.add_argument("--out", required=True, type=Path, help="DuckDB file to write")
    args = parser.parse_args()

    args.out.unlink(missing_ok=True)
    con = duckdb.connect(str(args.out))
    t0 = time.perf_counter()
    loaded = load_files(con, args.data)
    con.execute("CHECKPOINT")
    t1 = time.perf_counter()
    warehouse = str(args.warehouse).replace("'", "''")
    con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
    script = (HERE / "floor.sql").read_text().replace("{raw}", "wh.raw")
    con.execute("BEGIN TRANSACTION")
    con.execute(script)
    t2 = time.perf_counter()
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    t3 = time.perf_counter()
    result = {
        "load_s": round(t1 - t0, 3),
        "marts_s": round(t2 - t1, 3),
        "write_s": round(t3 - t2, 3),
        "total_s": round(t3 - t0, 3),
        "rows_loaded": loaded,
        "duckdb_version": duckdb.__version__,
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
    }
    if args.snapshot:
        result["equal_to_snapshot"] = compare(con, args.snapshot)
    con.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
