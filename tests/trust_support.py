"""Constructed warehouses for the trust tests, and the check that sentences use row numbers.

The warehouses hold only the tables and columns the evidence model reads (the mart and the
intermediate models its input rows come from), so each test can state a client's history
month by month and watch one factor move; the evidence is the dbt model's compiled SQL.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from moatmetrics.trust import formatting as fmt
from moatmetrics.trust import scoring

COST_PER_HOUR = 25.0

# The tables the evidence model of client_profitability reads, with the columns it reads, in
# the catalog its compiled SQL names (dbt's DuckDB target attaches the warehouse as
# `warehouse`).
_INPUT_DDL = (
    "ATTACH ':memory:' AS warehouse; USE warehouse;"
    "CREATE SCHEMA marts; CREATE SCHEMA intermediate; CREATE SCHEMA staging;"
    "CREATE TABLE intermediate.int_time_entries_costed (entry_id VARCHAR, staff_id VARCHAR,"
    " client_id VARCHAR, work_date DATE, work_month DATE, is_absence BOOLEAN,"
    " source_upload_id VARCHAR, source_row_number BIGINT);"
    "CREATE TABLE intermediate.int_invoice_lines_recognized (invoice_id VARCHAR,"
    " line_no BIGINT, client_id VARCHAR, invoice_month DATE, source_upload_id VARCHAR,"
    " source_row_number BIGINT);"
    "CREATE TABLE intermediate.int_license_snapshots_corrected (client_id VARCHAR,"
    " vendor VARCHAR, product VARCHAR, snapshot_date DATE, source_upload_id VARCHAR,"
    " source_row_number BIGINT);"
    "CREATE TABLE intermediate.int_expenses_screened (client_id VARCHAR, expense_date DATE,"
    " left_out_reason VARCHAR, source_upload_id VARCHAR, source_row_number BIGINT);"
    "CREATE TABLE staging.stg_raw__row_warnings (source_upload_id VARCHAR,"
    " source_row_number BIGINT);"
)


@cache
def evidence_sql(mart: str) -> str:
    """The evidence model of `mart` as dbt compiles it (dbt_project/models/evidence): the
    tests run the product's SQL, not a copy. Compiled once per process, in-process."""
    from moatmetrics.trust import evidence
    from tests.integration.dbt.dbt_test_support import run_dbt

    work = Path(tempfile.mkdtemp(prefix="moatmetrics-evidence-sql-"))
    compiled = run_dbt(
        ["compile", "--quiet", "--select", f"path:models/{evidence.SCHEMA}"],
        work,
        {"MOATMETRICS_WAREHOUSE_PATH": str(work / "w.duckdb")},
    )
    assert compiled.success, compiled.exception
    models = compiled.target_path / "compiled" / "moatmetrics" / "models" / evidence.SCHEMA
    return (models / f"{evidence.model_name(mart)}.sql").read_text(encoding="utf-8")


def month(index: int) -> date:
    """Month `index` of the constructed history (0 = January 2025)."""
    return date(2025 + index // 12, index % 12 + 1, 1)


@dataclass
class ClientMonth:
    """One month of a constructed client: what the mart says and the input rows behind it."""

    revenue: float = 1000.0
    hours: float = 20.0
    unknown_hours: float = 0.0
    entries: int = 20
    warned: int = 0
    products: tuple[str, ...] = ()


@dataclass
class Builder:
    con: duckdb.DuckDBPyConnection = field(default_factory=lambda: duckdb.connect(":memory:"))
    mart_rows: list[tuple] = field(default_factory=list)
    row_number: int = 1

    def __post_init__(self) -> None:
        self.con.execute(_INPUT_DDL)

    def _next_row(self) -> int:
        self.row_number += 1
        return self.row_number

    def client(self, client_id: str, months: Iterable[ClientMonth]) -> Builder:
        for index, m in enumerate(months):
            day = month(index)
            for entry in range(m.entries):
                row = self._next_row()
                self.con.execute(
                    "INSERT INTO intermediate.int_time_entries_costed"
                    " VALUES (?, 'S1', ?, ?, ?, false, 'u1', ?)",
                    [f"{client_id}-{index}-{entry}", client_id, day, day, row],
                )
                if entry < m.warned:
                    self.con.execute(
                        "INSERT INTO staging.stg_raw__row_warnings VALUES ('u1', ?)", [row]
                    )
            self.con.execute(
                "INSERT INTO intermediate.int_invoice_lines_recognized"
                " VALUES (?, 1, ?, ?, 'u2', ?)",
                [f"I-{client_id}-{index}", client_id, day, self._next_row()],
            )
            for product in m.products:
                self.con.execute(
                    "INSERT INTO intermediate.int_license_snapshots_corrected"
                    " VALUES (?, 'V', ?, ?, 'u3', ?)",
                    [client_id, product, day, self._next_row()],
                )
            labor_cost = (m.hours - m.unknown_hours) * COST_PER_HOUR
            margin = (m.revenue - labor_cost) / m.revenue if m.revenue > 0 else None
            rate = m.revenue / m.hours if m.hours else None
            self.mart_rows.append(
                (client_id, client_id.title(), day, m.revenue, m.revenue, m.hours, m.hours,
                 labor_cost, m.unknown_hours, 0.0, 0.0, labor_cost, m.revenue - labor_cost,
                 margin, rate)
            )  # fmt: skip
        return self

    def build(self) -> duckdb.DuckDBPyConnection:
        self.con.execute(
            "CREATE TABLE marts.client_profitability (client_id VARCHAR, client_name VARCHAR,"
            " month DATE, revenue DECIMAL(18,2), recurring_revenue DECIMAL(18,2),"
            " labor_hours DECIMAL(18,2), billable_hours DECIMAL(18,2), labor_cost DECIMAL(18,2),"
            " labor_cost_unknown_hours DECIMAL(18,2), license_cost DECIMAL(18,2),"
            " other_cost DECIMAL(18,2), total_cost DECIMAL(18,2), gross_profit DECIMAL(18,2),"
            " gross_margin DECIMAL(18,4), effective_hourly_rate DECIMAL(18,2))"
        )
        if self.mart_rows:
            self.con.executemany(
                "INSERT INTO marts.client_profitability VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.mart_rows,
            )
        return self.con


def client_scores(*clients: tuple[str, list[ClientMonth]]) -> pd.DataFrame:
    """Evidence, confidence and explanation of every client-month of a constructed warehouse."""
    builder = Builder()
    for client_id, months in clients:
        builder.client(client_id, months)
    con = builder.build()
    try:
        return scoring.score(
            con, "client_profitability", 0.7, f"({evidence_sql('client_profitability')})"
        )
    finally:
        con.close()


def last_month(scores: pd.DataFrame, client_id: str) -> pd.Series:
    rows = scores[scores["client_id"] == client_id]
    return rows.iloc[-1]


# ----------------------------------------------------------------------- sentence numbers

#: A number as sentences print it: signed, money, thousands separators, %, points.
NUMBER = re.compile(r"[+-]?\$?\d[\d,]*(?:\.\d+)?(?:%| pts)?")
_RENDERERS = (
    fmt.percent,
    fmt.abs_percent,
    fmt.signed_percent,
    fmt.money,
    fmt.signed_money,
    fmt.decimal1,
    fmt.signed_decimal1,
    fmt.integer,
    fmt.signed_points,
)


def numeric_leaves(value: Any) -> list[float]:
    """Every number in a row value, descending into JSON text (the drivers column)."""
    if isinstance(value, str) and value[:1] and value[:1] in "{[":  # ("" is in every string)
        return numeric_leaves(json.loads(value))
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in numeric_leaves(v)]
    if isinstance(value, list):
        return [n for v in value for n in numeric_leaves(v)]
    if isinstance(value, bool) or value is None:
        return []
    try:
        number = float(value)
    except (TypeError, ValueError):
        return []
    return [] if np.isnan(number) else [number]


def renderings(row: Mapping[str, Any]) -> set[str]:
    """Every way a number of the row could appear in its sentence."""
    numbers = pd.Series(
        [n for key, v in row.items() if key != "explanation" for n in numeric_leaves(v)],
        dtype=float,
    )
    found: set[str] = set()
    for render in _RENDERERS:
        found.update(render(numbers))
        found.update(render(numbers.abs()))
    return found


def foreign_numbers(row: Mapping[str, Any]) -> list[str]:
    """Numbers in the row's explanation that no value of the row renders to (should be [])."""
    allowed = renderings(row)
    return [token for token in NUMBER.findall(row["explanation"]) if token not in allowed]
