"""Which dbt data tests a build leaves out: those whose every input is as the last fully tested
build found it (issue 14: data tests that cannot fail on the current inputs are not rerun).

A data test reads models, and the models read raw tables and seeds. The SQL is deterministic
(no model reads the clock), so on the same raw rows, the same code and the same settings a
test finds what it found before. A day's files change `raw.time_entries` and `raw.invoices`;
the tests of the clients, staff, licences, expenses, mappings and seeds then cannot fail
and are left out (40 of the 136 a pipeline build runs), while every test that reads a changed
table runs as before, the marts' included.

What counts as an input, and how a change is seen:

- each raw table dbt reads (`source('raw', ...)`), by its rows: a fingerprint (row count and
  the sum of DuckDB's hash of every row, lineage included); the time entries' fingerprint is
  made from the month plan's fingerprints per month when the run has one (no second scan of
  the largest table);
- the code (dbt project, seeds, package) and the settings that reach the marts: any change
  runs every test.

The same reasoning leaves out models: a model none of whose raw tables changed holds what
building it again would write. `orchestration/assets/dbt.py` offers only the models no
Python asset reads (Dagster skips the steps downstream of an asset a run does not
materialise) and, in PostgreSQL mode, no views (the copy of raw drops them with it): on a
day's files, the licence, expense, staff and client models and the staging views of the
unchanged tables.

The record is written only after a build of the whole graph passed (a subset run from the
Dagster UI tested only its part), and every build forgets it before dbt starts: after a
failed build (or a subset run) the next build runs every test. A check that failed must be
evaluated again even when its inputs are back to what the last good build saw (an analyst
mends a row by hand, then reruns the failed asset from the UI), or Dagster would keep showing
it failed. The tests of what the ingest guarantees are left out of pipeline builds anyway
(`orchestration/assets/dbt.py`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import Any

import duckdb

from moatmetrics.canonical import digest
from moatmetrics.fingerprints import (
    code_digest,
    record_inputs,
    recorded_inputs,
    rows_fingerprint,
    settings_digest,
)
from moatmetrics.settings import Settings

STATE_TABLE = "ingest.tested_inputs"
_CODE_PART = "code and settings"


def raw_tables(manifest: Mapping[str, Any]) -> list[str]:
    """The raw tables the dbt project reads, by name."""
    return sorted(
        source["name"] for source in manifest["sources"].values() if source["source_name"] == "raw"
    )


def input_fingerprints(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    tables: list[str],
    time_entry_months: Mapping[date, str] | None = None,
) -> dict[str, str]:
    """The fingerprint of each raw table dbt reads, and of the code and settings.

    `time_entry_months` (the month plan's fingerprints of `raw.time_entries`, every month)
    stands in for a scan of the time entries."""
    found = {}
    for table in tables:
        if table == "time_entries" and time_entry_months is not None:
            found[table] = digest(sorted(time_entry_months.items()))
        else:
            found[table] = rows_fingerprint(con, f"SELECT * FROM raw.{table}")
    found[_CODE_PART] = digest({"code": code_digest(), "settings": settings_digest(settings)})
    return found


def _recorded(con: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    record = recorded_inputs(con, STATE_TABLE)
    return None if record is None else dict(json.loads(record["fingerprints"]))


def _changed_tables(con: duckdb.DuckDBPyConnection, now: Mapping[str, str]) -> set[str] | None:
    """The raw tables changed since the last fully tested build; None when there is no such
    build or the code or settings changed (then everything counts as changed)."""
    before = _recorded(con)
    if before is None or before.get(_CODE_PART) != now[_CODE_PART]:
        return None
    return {table for table, fingerprint in now.items() if before.get(table) != fingerprint}


def _untouched(
    manifest: Mapping[str, Any], changed: set[str], wanted: Callable[[dict[str, Any]], bool]
) -> list[str]:
    """The names of the `wanted` nodes none of whose raw tables is in `changed`."""
    parents: Mapping[str, list[str]] = manifest["parent_map"]

    @functools.cache
    def raw_inputs(unique_id: str) -> frozenset[str]:
        if unique_id.startswith("source."):
            return frozenset([manifest["sources"][unique_id]["name"]])
        found: set[str] = set()
        for parent in parents.get(unique_id, []):
            found |= raw_inputs(parent)
        return frozenset(found)

    return sorted(
        node["name"]
        for unique_id, node in manifest["nodes"].items()
        if wanted(node) and not raw_inputs(unique_id) & changed
    )


def untouched_tests(
    con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], now: Mapping[str, str]
) -> list[str]:
    """The names of the data tests whose every raw table is as the last fully tested build
    found it, code and settings unchanged; none when there is no such build."""
    changed = _changed_tables(con, now)
    if changed is None:
        return []
    return _untouched(manifest, changed, lambda node: node["resource_type"] == "test")


def untouched_models(
    con: duckdb.DuckDBPyConnection,
    manifest: Mapping[str, Any],
    now: Mapping[str, str],
    candidates: Collection[str],
) -> list[str]:
    """The names of the `candidates` models whose every raw table is as the last fully tested
    build found it, code and settings unchanged: their tables hold what building them again
    would write (the same SQL on the same rows), so a build may leave them out."""
    changed = _changed_tables(con, now)
    if changed is None:
        return []
    return _untouched(
        manifest,
        changed,
        lambda node: node["resource_type"] == "model" and node["name"] in candidates,
    )


def forget_tested(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the record before a build: only a build of the whole graph that passes writes it
    again, so whatever fails in between is tested in full next time."""
    con.execute(f"DROP TABLE IF EXISTS {STATE_TABLE}")


def record_tested(con: duckdb.DuckDBPyConnection, fingerprints: Mapping[str, str]) -> None:
    """Remember the inputs a build of the whole graph passed every test on."""
    record_inputs(con, STATE_TABLE, {"fingerprints": json.dumps(dict(fingerprints))})
