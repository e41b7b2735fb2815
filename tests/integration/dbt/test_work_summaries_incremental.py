"""The summaries of time entries per month of work, built incrementally, give a full build's rows.

`int_client_work_types_summarized` and `int_staff_work_types_summarized` replace only the
months the month plan names (macros/time_entry_months.sql), keyed by the month of the
*corrected* work date, while the time entries are partitioned by the month the file gave.
The case that tells the two apart: a correction moved entry T001 (client C001, remote
support, 6.5 h on ticket TK-100) from January into March, and then January's file came again
without T001. The plan names January only (a correction unchanged since the last build does
not make the plan full); the summaries must still drop T001 from March, where it was, and
leave February, which nothing reached, as the last build made it. A full refresh on the same
inputs must give the same rows. On DuckDB and on PostgreSQL (the pre-hooks are plain SQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dbt_test_support import DuckdbBuild, Warehouse, built_warehouse, run_dbt

from moatmetrics.warehouse.incremental_months import MONTHS_ENV, PLANNED_MODELS

MOVE_T001_TO_MARCH = (
    "insert into raw.row_overrides (override_id, entity, row_key, action, column_name, value,"
    " entry_id) values (1, 'time_entries', 'T001', 'set', 'work_date', '2025-03-10', 'T001')"
)
JANUARY_FILE_WITHOUT_T001 = "delete from raw.time_entries where entry_id = 'T001'"
#: A mark on February's rows: a build that replaced February would drop it.
MARK = "update intermediate.{summary} set hours = hours + 1000 where month = '2025-02-01'"
SUMMARIES = {
    "int_client_work_types_summarized": "client_id, month, work_type",
    "int_staff_work_types_summarized": "staff_id, month, work_type",
}


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, duckdb_build: DuckdbBuild, tmp_path: Path
) -> Iterator[Warehouse]:
    yield from built_warehouse(request.param, duckdb_build, tmp_path)


def _build(warehouse: Warehouse, work: Path, months: str, *, full: bool = False) -> None:
    command = ["run", "--target", warehouse.target, "--select", *PLANNED_MODELS]
    run = run_dbt(
        [*command, "--full-refresh"] if full else command,
        work,
        {**warehouse.env, MONTHS_ENV: months},
    )
    assert run.success, run.exception


def _summaries(warehouse: Warehouse) -> dict[str, list[dict[str, Any]]]:
    return {
        summary: warehouse.rows(f"select * from intermediate.{summary} order by {key}")
        for summary, key in SUMMARIES.items()
    }


def _remote_support_march(rows: list[dict[str, Any]]) -> dict[str, Any]:
    (row,) = [
        r
        for r in rows
        if (r["client_id"], r["month"].isoformat(), r["work_type"])
        == ("C001", "2025-03-01", "remote_support")
    ]
    return row


def _unmarked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**r, "hours": r["hours"] - 1000} if r["month"].isoformat() == "2025-02-01" else r
        for r in rows
    ]


def test_a_month_a_correction_moved_an_entry_into_is_rebuilt_with_its_file_month(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    warehouse.execute(MOVE_T001_TO_MARCH)
    _build(warehouse, tmp_path, "all", full=True)  # a correction changed: every month
    moved = _summaries(warehouse)
    march = _remote_support_march(moved["int_client_work_types_summarized"])
    assert (march["hours"], march["tickets"]) == (Decimal("16.50"), 2)  # 10 h + T001's 6.5 h
    for summary in SUMMARIES:
        warehouse.execute(MARK.format(summary=summary))

    warehouse.execute(JANUARY_FILE_WITHOUT_T001)
    _build(warehouse, tmp_path, "2025-01-01")
    incremental = _summaries(warehouse)
    march = _remote_support_march(incremental["int_client_work_types_summarized"])
    assert (march["hours"], march["tickets"]) == (Decimal("10.00"), 1)
    for summary in SUMMARIES:  # February was not replaced: its mark is still there
        february = [r for r in incremental[summary] if r["month"].isoformat() == "2025-02-01"]
        assert february and all(r["hours"] >= 1000 for r in february)

    _build(warehouse, tmp_path, "all", full=True)
    full = _summaries(warehouse)
    assert full != moved
    assert {summary: _unmarked(rows) for summary, rows in incremental.items()} == full
