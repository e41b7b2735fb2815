"""Pydantic models of every API response: the public, documented shape BI tools bind to.

The row models mirror `shared/spec/metrics.md` column for column. Money and hours are exact
`Decimal` values with 2 places (rendered as JSON numbers, see `api.mart_page_output`), rates are
fractions as plain numbers, `month` is the first day of the month. A field is nullable only
where the metric definition allows null (an unknown or zero denominator, unknown input), so the
OpenAPI schema tells a consumer exactly which values may be missing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

Money = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "Exact decimal amount, 2 places."}),
]
Hours = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "Exact decimal hours, 2 places."}),
]
Rate = Annotated[float, Field(description="A fraction (0.42 means 42 %).")]
Count = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "Exact decimal count, 2 places."}),
]

_CONFIDENCE = "Trust in this row's numbers, 0..1 (null until the confidence assets ran)."
_NEEDS_REVIEW = "confidence is below the configured review threshold."
_EXPLANATION = "Short human sentence naming the main drivers of the row's numbers."
_FACTOR = "Confidence factor in [0, 1] (docs/trust.md): "
_DRIVERS = (
    "JSON text: the row against its trailing 3-month average and the portfolio median "
    "(changes and exact contributions of each part)."
)
_REVIEW_STATUS = "open, approved or rejected (review queue); not_required above the threshold."


class MartRow(BaseModel):
    """Base of the mart row models: rows are read-only facts of one snapshot."""

    model_config = ConfigDict(frozen=True)


class TrustColumns(MartRow):
    """The trust layer's columns (null until the trust assets ran).

    Listed first among a row model's bases so that, pydantic ordering fields from the most
    basic class on, they follow the mart's own columns.
    """

    confidence: Rate | None = Field(default=None, description=_CONFIDENCE)
    confidence_cost_completeness: Rate | None = Field(
        default=None, description=_FACTOR + "inputs the number needs are known."
    )
    confidence_evidence_volume: Rate | None = Field(
        default=None, description=_FACTOR + "input rows behind the number, n / (n + k)."
    )
    confidence_data_quality: Rate | None = Field(
        default=None, description=_FACTOR + "share of input rows without a quality warning."
    )
    confidence_consistency: Rate | None = Field(
        default=None, description=_FACTOR + "closeness to the entity's previous six months."
    )
    confidence_coverage: Rate | None = Field(
        default=None, description=_FACTOR + "snapshots or timesheets the number needs present."
    )
    explanation: str | None = Field(default=None, description=_EXPLANATION)
    drivers: str | None = Field(default=None, description=_DRIVERS)
    needs_review: bool | None = Field(default=None, description=_NEEDS_REVIEW)
    review_status: str | None = Field(default=None, description=_REVIEW_STATUS)


class _ClientProfitabilityColumns(MartRow):
    """The columns of marts.client_profitability as dbt builds them."""

    client_id: str
    client_name: str | None = Field(description="Null when the client is not in clients.")
    month: date = Field(description="First day of the calendar month.")
    revenue: Money = Field(description="Invoice line amounts of the month, not draft/void.")
    recurring_revenue: Money = Field(description="Part of revenue: recurring or license.")
    labor_hours: Hours = Field(description="Time entry hours, absence excluded.")
    billable_hours: Hours = Field(description="Part of labor_hours that is billable.")
    # Nullable: snapshots published before the column existed are still served.
    no_charge_hours: Hours | None = Field(
        default=None,
        description="Part of labor_hours with billing_option no_charge (work given away).",
    )
    labor_cost: Money = Field(description="Hours x the staff member's hourly_cost.")
    labor_cost_unknown_hours: Hours = Field(
        description="Hours of staff without a known hourly_cost (they add 0 to labor_cost)."
    )
    license_cost: Money = Field(description="seats_purchased x unit_cost of the month.")
    other_cost: Money = Field(description="The client's expenses of the month.")
    total_cost: Money = Field(description="labor_cost + license_cost + other_cost.")
    gross_profit: Money = Field(description="revenue - total_cost.")
    gross_margin: Rate | None = Field(description="gross_profit / revenue; null if revenue <= 0.")
    effective_hourly_rate: Money | None = Field(
        description="(revenue - license_cost - other_cost) / labor_hours; null if no hours."
    )
    overridden_rows: int | None = Field(
        default=None,
        description="Input rows behind this row an analyst corrected or excluded; 0 when none.",
    )


class ClientProfitabilityRow(TrustColumns, _ClientProfitabilityColumns):
    """One client in one month."""


MISSING_FACT = "Null on a row assembled from vendor facts without this fact (see missing_facts)."


class _LicenseUtilizationColumns(MartRow):
    """The columns of marts.license_utilization as dbt builds them."""

    client_id: str
    vendor: str | None = Field(description="Null when the license export names no vendor.")
    product: str
    month: date = Field(description="First day of the month of the license snapshot_date.")
    seats_purchased: int | None = Field(description=MISSING_FACT)
    seats_assigned: int | None = Field(description=MISSING_FACT)
    seats_active: int | None = Field(description=MISSING_FACT)
    seats_billed: int | None = Field(description="Null when the export does not say.")
    unit_cost: Money | None = Field(
        description="Monthly cost per seat; null without a purchase fact."
    )
    unit_price: Money | None = Field(description="Monthly price per seat billed to the client.")
    assignment_rate: Rate | None = Field(description="seats_assigned / seats_purchased.")
    utilization_rate: Rate | None = Field(description="seats_active / seats_purchased.")
    unused_seats: int | None = Field(description="max(seats_purchased - seats_active, 0).")
    monthly_waste: Money | None = Field(description="unused_seats x unit_cost.")
    unbilled_seats: int | None = Field(
        description="max(seats_assigned - seats_billed, 0); null when seats_billed is unknown."
    )
    monthly_leakage: Money | None = Field(
        description="unbilled_seats x unit_price; null when either is unknown."
    )
    utilization_band: str | None = Field(description="optimal, moderate, under or critical.")
    recommendation: str = Field(description="true_up, bill_client, reclaim or ok.")
    term_end_date: date | None = Field(
        default=None,
        description="Renewal date: the end of the subscription's term; null when the export "
        "does not say (and in snapshots published before the column existed).",
    )
    overridden_rows: int | None = Field(
        default=None,
        description="Input rows behind this row an analyst corrected or excluded; 0 when none.",
    )
    # Snapshots published before license facts were assembled lack these two columns.
    license_source: str | None = Field(
        default=None,
        description="licenses (the canonical file) or license_facts (assembled from vendor facts).",
    )
    missing_facts: str | None = Field(
        default=None,
        description="Facts the row lacks, comma-separated (purchased, assigned, active, billed).",
    )


class LicenseUtilizationRow(TrustColumns, _LicenseUtilizationColumns):
    """One product of one vendor for one client in one month."""


class _StaffUtilizationColumns(MartRow):
    """The columns of marts.staff_utilization as dbt builds them."""

    staff_id: str
    staff_name: str | None
    month: date = Field(description="First day of the calendar month.")
    available_hours: Hours | None = Field(
        description="Contracted weekday hours minus absence; null when the staff record is unknown."
    )
    logged_hours: Hours = Field(description="Time entry hours, absence excluded.")
    billable_hours: Hours = Field(description="Part of logged_hours that is billable.")
    no_charge_hours: Hours | None = Field(
        default=None,
        description="Part of logged_hours with billing_option no_charge on client work.",
    )
    utilization: Rate | None = Field(description="billable_hours / available_hours.")
    logged_ratio: Rate | None = Field(description="logged_hours / available_hours.")
    overtime_hours: Hours | None = Field(description="max(logged - available hours, 0).")
    capacity_gap_hours: Hours | None = Field(
        description="available_hours x billable_target - billable_hours (positive = spare)."
    )
    band: str | None = Field(description="overloaded, under, near or on_target.")
    overridden_rows: int | None = Field(
        default=None,
        description="Input rows behind this row an analyst corrected or excluded; 0 when none.",
    )


class StaffUtilizationRow(TrustColumns, _StaffUtilizationColumns):
    """One staff member in one month."""


class ClientRiskRow(MartRow):
    """One current client: the churn risk of its latest month and what drives it."""

    client_id: str
    client_name: str | None = Field(description="Null when the client is not in clients.")
    month: date = Field(description="The month the risk was scored on (latest of the data).")
    churn_risk: Rate = Field(description="Probability of leaving within the next three months.")
    risk_rank: int = Field(description="1 = highest risk among the scored clients.")
    risk_band: str = Field(description="high (>= 0.5), elevated (>= 0.2) or low.")
    explanation: str = Field(description="The risk and the features that raise or lower it.")
    drivers: str = Field(
        description="JSON text: every feature's value and SHAP value (log-odds), largest first."
    )


class MonthCompletenessRow(MartRow):
    """One month of the data: what each source sent and whether the month is complete."""

    month: date
    invoice_lines: int = Field(description="Invoice lines (any status) dated in the month.")
    time_entries: int = Field(description="Time entries (any work type) dated in the month.")
    license_snapshots: int = Field(description="License snapshot rows dated in the month.")
    expenses: int = Field(description="Expenses dated in the month.")
    usual_time_entries: Count | None = Field(
        description="Average time entries of the previous 3 months that had any; null "
        "without history."
    )
    reported_sources: str | None = Field(
        description="Sources with rows this month, comma-separated; null when none."
    )
    missing_sources: str | None = Field(
        description="Sources that usually report (rows in 2 of the 3 previous months) and "
        "have no rows this month; null when none."
    )
    short_sources: str | None = Field(
        description="'time entries' when they are below half their usual volume; else null."
    )
    is_complete: bool = Field(description="No usual source is missing or short.")


class TrendRow(MartRow):
    """One series (a client's, staff member's, license's or the portfolio's metric) in one
    month: where it stands and where it is heading (docs/metrics.md#martstrends).

    Values are plain numbers to 4 places in the metric's unit: dollars, hours, or a fraction
    for gross_margin and utilization (0.42 means 42 %)."""

    entity_type: str = Field(description="client, staff, license or portfolio.")
    entity_key: str = Field(
        description="client_id, staff_id, 'client_id / vendor / product' or 'portfolio'."
    )
    entity_name: str = Field(description="The client's or staff member's name, else its id.")
    client_id: str | None = Field(description="Client and license series; else null.")
    staff_id: str | None = Field(description="Staff series; else null.")
    vendor: str | None = Field(description="License series (null when unknown); else null.")
    product: str | None = Field(description="License series; else null.")
    metric: str = Field(
        description="revenue, gross_margin, labor_hours, effective_hourly_rate, waste, "
        "leakage or utilization (the marts' formulas; the portfolio's over its sums)."
    )
    month: date
    value: float = Field(description="The metric this month.")
    previous_value: float | None = Field(
        description="The calendar month before; null when that month has no value."
    )
    change: float | None = Field(description="value - previous_value.")
    trailing_3m_average: float = Field(
        description="Average of this month and the 2 before (those with a value)."
    )
    trailing_12m_average: float = Field(
        description="Average of this month and the 11 before (those with a value)."
    )
    slope_6m: float | None = Field(
        description="Least-squares slope of this month and the 5 before, per month; null "
        "with fewer than 3 values."
    )
    months_in_window: int = Field(description="Months of the last 6 that have a value.")
    direction: str | None = Field(
        description="improving, stable or worsening, from the slope and the "
        "reference.trend_metrics thresholds; rising or falling for hours (neither better nor "
        "worse); null without a slope."
    )
    month_is_complete: bool = Field(description="Every usual source has reported the month.")
    confidence: Rate = Field(
        description="Complete months with a value among the last 6, divided by 6."
    )
    explanation: str = Field(
        description="The direction, slope, this month's value and the 12-month average."
    )


class BenchmarkRow(MartRow):
    """The MSP's figure beside one sourced reference band (docs/insights.md#benchmarks)."""

    month: date
    metric: str = Field(
        description="gross_margin, utilization, effective_hourly_rate or license_utilization."
    )
    band: str = Field(description="The reference band's name (reference.benchmark_bands).")
    label: str
    value: float = Field(description="The MSP's figure: a fraction, or dollars an hour.")
    low: float | None = Field(description="The band's lower bound; null = open.")
    high: float | None = Field(description="The band's upper bound; null = open.")
    unit: str = Field(description="ratio or money.")
    position: str = Field(description="below, within or above the band.")
    explanation: str
    source: str = Field(description="Who published the band.")
    source_url: str = Field(description="Where.")
    finding: str = Field(description="What the source says, in short.")


class ForecastRow(MartRow):
    """One series' forecast of one month ahead (docs/insights.md#forecasts)."""

    entity_type: str = Field(description="client, staff or team.")
    entity_key: str = Field(description="client_id, staff_id or 'team'.")
    client_id: str | None = Field(description="Client series; else null.")
    staff_id: str | None = Field(description="Staff series; else null.")
    name: str | None = Field(description="The client's or staff member's name; 'Team'.")
    metric: str = Field(
        description="labor_hours, revenue (client); billable_hours, available_hours (staff); "
        "client_work_demand, client_work_capacity, capacity_gap (team)."
    )
    label: str
    unit: str = Field(description="hours or money.")
    origin_month: date = Field(description="The last complete month the forecast starts from.")
    forecast_month: date
    horizon: int = Field(description="Months after origin_month: 1, 2 or 3.")
    status: str = Field(
        description="forecast, or too_little_history (fewer than 6 months with a value in "
        "the series' window: no forecast)."
    )
    forecast: Money | None = Field(description="The forecast value (hours or money).")
    lower_80: Money | None = Field(
        description="80% prediction interval from the backtest errors at this horizon; null "
        "with fewer than 3 of them, and for capacity and team rows."
    )
    upper_80: Money | None
    last_value: Money | None = Field(description="The value in origin_month.")
    history_months: int | None = Field(description="Months with a value behind the level.")
    method: str = Field(description="How the forecast is made, in words.")
    backtest_forecasts: int = Field(
        description="Backtest forecasts scored (6 rolling origins, 1-3 months ahead)."
    )
    mase: float | None = Field(
        description="Backtest mean absolute error / the seasonal-naive forecast's mean "
        "absolute error over the series' history; below 1 beats repeating last year's month. "
        "Null with fewer than 6 year-on-year pairs."
    )
    confidence: Rate = Field(
        description="1 - the backtest's weighted absolute percentage error (0 when not "
        "backtested); capacity: months of absence history / 12; team: demand-weighted mean."
    )
    explanation: str = Field(description="The forecast, its range, basis and accuracy.")


class AnomalyRow(MartRow):
    """A month that departs from its own history and its peers (docs/insights.md#anomalies)."""

    entity_type: str = Field(description="client, license or staff.")
    entity_key: str = Field(
        description="client_id, staff_id, or 'client_id / vendor / product' for a licence."
    )
    client_id: str | None = Field(description="Client and licence anomalies; else null.")
    staff_id: str | None = Field(description="Staff anomalies; else null.")
    vendor: str | None = Field(description="Licence anomalies (null when unknown); else null.")
    product: str | None = Field(description="Licence anomalies; else null.")
    name: str = Field(description="The client, staff member or licence, in words.")
    kind: str = Field(
        description="hours_spike, revenue_drop, margin_collapse (client); unused_seats_jump, "
        "unbilled_seats_jump (license); staff_hours_spike (staff)."
    )
    metric: str = Field(
        description="The mart column: labor_hours, revenue, gross_profit, unused_seats, "
        "unbilled_seats or logged_ratio."
    )
    label: str
    unit: str = Field(description="hours, money, seats or ratio.")
    month: date
    value: Money = Field(description="The month's value.")
    expected: Money = Field(
        description="The usual level: the median of the previous 12 months (hours: times the "
        "month's seasonal factor)."
    )
    expected_low: Money = Field(description="The usual range: 25th percentile of history.")
    expected_high: Money = Field(description="75th percentile.")
    history_months: int = Field(description="Months with a value in the 12 before (6 to 12).")
    score: Money = Field(
        description="Departure from the usual level in robust spreads, the kind's way, less "
        "the month's median among peers; 6 or more (and a material change) is an anomaly."
    )
    severity: str = Field(description="high (score 12 or more) or medium.")
    confidence: Rate = Field(
        description="The row's trust factors without consistency x months of history / 12."
    )
    drivers: str | None = Field(
        description="The parts that moved most against their own usual level."
    )
    explanation: str
    review_status: str | None = Field(
        description="Anomalies of the last 3 complete months: the review queue's status as "
        "published (open, approved, rejected = dismissed); older ones: not_required."
    )


class ActionRow(MartRow):
    """One thing to do, ranked by its monthly money effect (docs/metrics.md#martsactions)."""

    action_rank: int = Field(description="1 = the largest monthly effect.")
    action: str = Field(
        description="reclaim_seats, bill_seats, reprice_client, follow_up_client or "
        "rebalance_technician."
    )
    client_id: str | None = Field(description="Client and license actions; else null.")
    client_name: str | None = Field(description="The client's name, else its id.")
    vendor: str | None = Field(description="License actions (null when unknown); else null.")
    product: str | None = Field(description="License actions; else null.")
    staff_id: str | None = Field(description="rebalance_technician: who; else null.")
    staff_name: str | None = Field(description="Their name, else their id.")
    month: date = Field(description="The month it is for: the last complete month.")
    monthly_effect: Money = Field(
        description="Money a month: waste saved, leakage billed, revenue the target margin "
        "needs, revenue expected to be lost (churn risk x monthly revenue), or the overtime "
        "premium a rebalance saves."
    )
    confidence: Rate | None = Field(
        description="The confidence of the rows it comes from (a client's: their mean)."
    )
    explanation: str = Field(description="What to do, with the numbers it rests on.")
    source_mart: str = Field(
        description="The mart whose rows it comes from (license_utilization, "
        "client_profitability, client_risk or staff_utilization), matched on client_id (vendor, "
        "product) or staff_id, and month."
    )


RowT = TypeVar("RowT", bound=MartRow)


class MartPage(BaseModel, Generic[RowT]):
    """One page of a mart, with the total so a client can page without guessing."""

    mart: str
    snapshot_id: str = Field(description="The published snapshot these rows were read from.")
    total: int = Field(description="Rows matching the filters, over all pages.")
    limit: int
    offset: int
    rows: list[RowT]


class ClientProfitabilityPage(MartPage[ClientProfitabilityRow]):
    """A page of marts.client_profitability."""


class LicenseUtilizationPage(MartPage[LicenseUtilizationRow]):
    """A page of marts.license_utilization."""


class StaffUtilizationPage(MartPage[StaffUtilizationRow]):
    """A page of marts.staff_utilization."""


class ClientRiskPage(MartPage[ClientRiskRow]):
    """A page of marts.client_risk."""


class MonthCompletenessPage(MartPage[MonthCompletenessRow]):
    """A page of marts.month_completeness."""


class TrendPage(MartPage[TrendRow]):
    """A page of marts.trends."""


class ActionPage(MartPage[ActionRow]):
    """A page of marts.actions."""


class BenchmarkPage(MartPage[BenchmarkRow]):
    """A page of marts.benchmarks."""


class ForecastPage(MartPage[ForecastRow]):
    """A page of marts.forecasts."""


class AnomalyPage(MartPage[AnomalyRow]):
    """A page of marts.anomalies."""


ColumnType = Literal["string", "integer", "decimal", "number", "date", "boolean"]


class ColumnInfo(BaseModel):
    name: str
    type: ColumnType = Field(description="JSON-level type; decimal = exact number, 2 places.")
    nullable: bool
    description: str | None
    sql_type: str | None = Field(
        description="Column type in the snapshot file; null when the snapshot lacks it."
    )


class MartInfo(BaseModel):
    name: str
    description: str
    grain: list[str] = Field(description="Columns that identify a row (the default sort).")
    filters: list[str] = Field(description="Query parameters that filter on key columns.")
    columns: list[ColumnInfo]
    row_count: int | None = Field(description="Rows in the current snapshot; null if none.")
    snapshot_id: str | None


class MartCatalog(BaseModel):
    snapshot_id: str | None = Field(description="The current snapshot; null before the first.")
    marts: list[MartInfo]


class SnapshotInfo(BaseModel):
    snapshot_id: str
    created_at: datetime
    current: bool = Field(description="This is the snapshot the API serves now.")
    row_counts: dict[str, int]
    upload_ids: list[str] = Field(description="Accepted uploads included, oldest first.")


class SnapshotList(BaseModel):
    current_snapshot_id: str | None
    snapshots: list[SnapshotInfo] = Field(description="Newest first.")


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        "ok", description="`degraded` when the process runs but cannot serve the marts."
    )
    snapshot_id: str | None = Field(description="Current snapshot, null before the first.")
    snapshot: Literal["ok", "none", "broken", "unreachable"] = Field(
        "ok",
        description="`none` before the first publish, `broken` when the CURRENT pointer is"
        " damaged, `unreachable` when the PostgreSQL catalog cannot be read.",
    )
    problem: str | None = Field(None, description="What is wrong, when not `ok`.")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per-parameter validation errors (422 only)."
    )
