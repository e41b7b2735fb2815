"""Fingerprints of what a result kept in the warehouse was computed from.

A result the pipeline keeps between runs (the trust scores, the churn model, the anomalies,
the forecasts, the months a dbt build replaces, the data tests it leaves out, a whole run's
inputs) is redone only when what it reads changed. Each keeps a fingerprint of its inputs
(`record_inputs`, in the transaction that writes it) and compares it with one taken now:
this installation's code and library versions (`code_digest`), the settings that reach the
marts (`settings_digest`), rows of a table (`rows_fingerprint`); any value goes through
`moatmetrics.canonical.digest`. Its own module, below the trust layer, the insights and the
warehouse, because they all fingerprint and the run's own inputs (`moatmetrics.run_inputs`)
sit above them.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from moatmetrics.canonical import digest
from moatmetrics.settings import DBT_PROJECT_DIR, Settings

#: Environment variables dbt's macros read (`dbt_project/macros/`): they change the marts.
MART_ENVIRONMENT = ("MOATMETRICS_LICENSE_SUPPLIERS", "MOATMETRICS_ABSENCE_WORK_TYPES")
#: Libraries whose release can change a number, a score or an explanation.
COMPUTING_LIBRARIES = ("duckdb", "dbt-core", "dbt-duckdb", "dbt-postgres", "scikit-learn", "shap")
_SOURCE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json"}
_PACKAGE_DIRS = ("moatmetrics", "orchestration")
_DBT_OUTPUT_DIRS = ("target", "logs", "dbt_packages")


@cache
def code_digest() -> str:
    """This installation's source (package, orchestration, dbt project) and library versions.

    Computed once per process: a few hundred small files, read in milliseconds.
    """
    sha = hashlib.sha256(source_digest(Path(__file__).resolve().parents[1]).encode())
    for library in COMPUTING_LIBRARIES:
        try:
            sha.update(f"{library}={metadata.version(library)}\0".encode())
        except metadata.PackageNotFoundError:
            sha.update(f"{library}=absent\0".encode())
    return sha.hexdigest()


def source_digest(package_root: Path) -> str:
    """SHA-256 of the source files (code, dbt project, suites, profiles) by their names.

    Files are named and ordered relative to the folder holding the packages, so a copy
    installed elsewhere (another checkout, site-packages, a temporary folder) fingerprints
    the same. In the checkout the dbt project and the suites are links to its top level
    (pyproject.toml), followed here as the wheel's copies are read. What dbt writes into its
    project (target/, logs/) is output, not code.
    """
    dbt_project = package_root / DBT_PROJECT_DIR.relative_to(DBT_PROJECT_DIR.parents[1])
    dbt_output = [dbt_project / folder for folder in _DBT_OUTPUT_DIRS]
    named: dict[str, Path] = {}
    for folder in _PACKAGE_DIRS:
        for directory, subdirectories, files in os.walk(package_root / folder, followlinks=True):
            here = Path(directory)
            subdirectories[:] = [d for d in subdirectories if here / d not in dbt_output]
            for name in files:
                path = here / name
                if path.suffix in _SOURCE_SUFFIXES:
                    named[path.relative_to(package_root).as_posix()] = path
    sha = hashlib.sha256()
    for name in sorted(named):
        sha.update(name.encode() + b"\0" + named[name].read_bytes() + b"\0")
    return sha.hexdigest()


def settings_digest(settings: Settings) -> str:
    """The settings that reach the marts; secrets and paths are not part of it."""
    target = "postgres" if settings.warehouse_url else "duckdb"
    if settings.encryption_key_file is not None and not settings.warehouse_url:
        target = "duckdb_encrypted"
    return digest(
        {
            "reporting_currency": settings.reporting_currency,
            "review_threshold": settings.review_threshold,
            "target": target,
            **{name: os.environ.get(name) for name in MART_ENVIRONMENT},
        }
    )


def rows_fingerprint(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """The rows `select` returns, fingerprinted in DuckDB: their count and the sum of each
    row's hash (order does not matter; any changed, added or removed row changes it)."""
    row = con.execute(
        f"SELECT count(*), CAST(sum(CAST(hash(t) AS HUGEINT)) AS VARCHAR) FROM ({select}) AS t"
    ).fetchone()
    assert row is not None  # an aggregate always has its row
    count, total = row
    return f"{count}:{total}"


def recorded_inputs(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any] | None:
    """The record `record_inputs` wrote in `table`, None when there is none (a first run, or a
    warehouse of an earlier release)."""
    try:
        cursor = con.execute(f"SELECT * FROM {table}")
    except duckdb.CatalogException:
        return None
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def record_inputs(con: duckdb.DuckDBPyConnection, table: str, record: dict[str, Any]) -> None:
    """Replace `table` with one row: what a result kept in the warehouse was computed from (a
    fingerprint of its inputs, and what the run's summary needs when the result is kept).

    Call it in the transaction that writes the result, so the two never disagree."""
    columns = ", ".join(f'? AS "{name}"' for name in record)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {columns}", list(record.values()))
