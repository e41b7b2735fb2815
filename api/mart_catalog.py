"""The marts the API serves, derived from the row models so columns are declared only once.

Column names here are the whitelist for every SQL identifier the API writes: user input only
ever selects among them, it is never interpolated into SQL.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from api import schemas

_KINDS: dict[type, schemas.ColumnType] = {
    bool: "boolean",  # before int: bool is an int subclass
    int: "integer",
    float: "number",
    Decimal: "decimal",
    date: "date",
    str: "string",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: schemas.ColumnType
    nullable: bool
    description: str | None


@dataclass(frozen=True)
class MartSpec:
    name: str
    description: str
    row_model: type[schemas.MartRow]
    page_model: type[schemas.MartPage]
    grain: tuple[str, ...]
    filters: tuple[str, ...]
    columns: tuple[Column, ...]
    #: The column month_from / month_to filter on; None: the mart has no month (client_risk).
    month_column: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _unwrap(annotation: object) -> tuple[type, bool]:
    """Return the base Python type of a field annotation and whether it admits None."""
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        (annotation,) = args
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    assert isinstance(annotation, type), annotation
    return annotation, nullable


def _columns(model: type[BaseModel]) -> tuple[Column, ...]:
    columns = []
    for name, field in model.model_fields.items():
        base, nullable = _unwrap(field.annotation)
        kind = next(k for t, k in _KINDS.items() if issubclass(base, t))
        columns.append(Column(name, kind, nullable, field.description))
    return tuple(columns)


def _spec(
    name: str,
    description: str,
    row_model: type[schemas.MartRow],
    page_model: type[schemas.MartPage],
    grain: tuple[str, ...],
    filters: tuple[str, ...],
    month_column: str | None = "month",
) -> MartSpec:
    columns = _columns(row_model)
    month = month_column if any(c.name == month_column for c in columns) else None
    return MartSpec(name, description, row_model, page_model, grain, filters, columns, month)


CLIENT_PROFITABILITY = _spec(
    "client_profitability",
    "Revenue, cost and margin of each client per month.",
    schemas.ClientProfitabilityRow,
    schemas.ClientProfitabilityPage,
    grain=("client_id", "month"),
    filters=("client_id",),
)
LICENSE_UTILIZATION = _spec(
    "license_utilization",
    "Seats purchased, assigned, active and billed per client, vendor, product and month, "
    "with waste, leakage and a recommendation.",
    schemas.LicenseUtilizationRow,
    schemas.LicenseUtilizationPage,
    grain=("client_id", "vendor", "product", "month"),
    filters=("client_id", "vendor", "product"),
)
STAFF_UTILIZATION = _spec(
    "staff_utilization",
    "Available, logged and billable hours of each staff member per month.",
    schemas.StaffUtilizationRow,
    schemas.StaffUtilizationPage,
    grain=("staff_id", "month"),
    filters=("staff_id",),
)

CLIENT_RISK = _spec(
    "client_risk",
    "Churn risk of each current client (gradient boosting on the client's history, "
    "time-based validation), with the drivers that raise or lower it (SHAP values). Empty "
    "when the history is too short; meta.churn_model in the snapshot says why.",
    schemas.ClientRiskRow,
    schemas.ClientRiskPage,
    grain=("client_id",),
    filters=("client_id",),
)

MONTH_COMPLETENESS = _spec(
    "month_completeness",
    "Which months are complete: the rows each source (invoices, time entries, license "
    "snapshots, expenses) sent for the month, and is_complete when every source that usually "
    "reports has reported (time entries at half their usual volume at least). The console "
    "and reports show the last complete month by default.",
    schemas.MonthCompletenessRow,
    schemas.MonthCompletenessPage,
    grain=("month",),
    filters=(),
)

TRENDS = _spec(
    "trends",
    "Where each client, staff member, license and the portfolio stands and is heading, per "
    "metric and month: the change from the month before, trailing 3- and 12-month averages, "
    "the 6-month slope and a direction (improving, stable, worsening; rising or falling for "
    "hours), with a confidence and an explanation. A client-scoped key sees its clients' "
    "client and license series only.",
    schemas.TrendRow,
    schemas.TrendPage,
    grain=("entity_type", "entity_key", "metric", "month"),
    filters=("entity_type", "entity_key", "client_id", "staff_id", "metric", "direction"),
)

BENCHMARKS = _spec(
    "benchmarks",
    "The MSP's own figures (portfolio gross margin, technician utilisation, effective hourly "
    "rate, license utilisation) beside industry reference bands, month by month: below, "
    "within or above each band, with the band's published source (reference.benchmark_bands; "
    "a metric without a sourced band has no row).",
    schemas.BenchmarkRow,
    schemas.BenchmarkPage,
    grain=("month", "metric", "band"),
    filters=("metric", "position"),
)

ACTIONS = _spec(
    "actions",
    "What to do first, for the last complete month, ranked by monthly money effect: reclaim "
    "unused seats, bill unbilled seats, reprice clients under the target margin "
    "(MOATMETRICS_TARGET_MARGIN), follow up clients at risk of leaving, rebalance overloaded "
    "technicians (MOATMETRICS_OVERTIME_PREMIUM); each with its confidence, a sentence and the "
    "mart it comes from.",
    schemas.ActionRow,
    schemas.ActionPage,
    grain=("action_rank",),
    filters=("action", "client_id", "staff_id"),
)

FORECASTS = _spec(
    "forecasts",
    "The next 3 months from the last complete month: labour hours and revenue per client, "
    "billable hours and capacity per staff member, and the team's client work against its "
    "capacity; each series with its 80% interval and its backtested accuracy (MASE against "
    "the seasonal-naive forecast), or a too_little_history row instead of a forecast. A "
    "client-scoped key sees its clients' series only.",
    schemas.ForecastRow,
    schemas.ForecastPage,
    grain=("entity_type", "entity_key", "metric", "forecast_month"),
    filters=("entity_type", "entity_key", "client_id", "staff_id", "metric", "status"),
    month_column="forecast_month",
)

ANOMALIES = _spec(
    "anomalies",
    "Months that depart from their own last 12 months and from their peers: hours spikes, "
    "revenue drops and margin collapses per client, jumps in unused or unbilled seats per "
    "licence, staff logging far more of their available hours than usual; each with its usual "
    "range, score, severity, confidence, drivers and review status. A client-scoped key sees "
    "its clients' anomalies only.",
    schemas.AnomalyRow,
    schemas.AnomalyPage,
    grain=("month", "entity_type", "entity_key", "metric"),
    filters=("entity_type", "entity_key", "client_id", "staff_id", "kind", "severity"),
)

MARTS: dict[str, MartSpec] = {
    spec.name: spec
    for spec in (
        CLIENT_PROFITABILITY,
        LICENSE_UTILIZATION,
        STAFF_UTILIZATION,
        CLIENT_RISK,
        MONTH_COMPLETENESS,
        TRENDS,
        BENCHMARKS,
        ACTIONS,
        FORECASTS,
        ANOMALIES,
    )
}


def describe_marts(
    snapshot_id: str | None,
    row_counts: Mapping[str, int],
    tables: Mapping[str, Mapping[str, str]],
) -> schemas.MartCatalog:
    """The catalog as served by GET /api/v1/marts, with the current snapshot's facts."""
    marts = []
    for spec in MARTS.values():
        present = tables.get(spec.name, {})
        columns = [
            schemas.ColumnInfo(
                name=c.name,
                type=c.kind,
                nullable=c.nullable,
                description=c.description,
                sql_type=present.get(c.name),
            )
            for c in spec.columns
        ]
        marts.append(
            schemas.MartInfo(
                name=spec.name,
                description=spec.description,
                grain=list(spec.grain),
                filters=list(spec.filters),
                columns=columns,
                row_count=row_counts.get(spec.name),
                snapshot_id=snapshot_id,
            )
        )
    return schemas.MartCatalog(snapshot_id=snapshot_id, marts=marts)
