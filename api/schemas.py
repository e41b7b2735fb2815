"""Pydantic models of every API response: the public, documented shape BI tools bind to.

The row models mirror `shared/spec/metrics.md` column for column. Money and hours are exact
`Decimal` values with 2 places (rendered as JSON numbers, see `api.rendering`), rates are
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

_CONFIDENCE = "Trust in this row's numbers, 0..1 (null until the confidence assets ran)."
_NEEDS_REVIEW = "confidence is below the configured review threshold."
_EXPLANATION = "Short human sentence naming the main drivers of the row's numbers."


class MartRow(BaseModel):
    """Base of the mart row models: rows are read-only facts of one snapshot."""

    model_config = ConfigDict(frozen=True)


class ClientProfitabilityRow(MartRow):
    """One client in one month."""

    client_id: str
    client_name: str | None = Field(description="Null when the client is not in clients.")
    month: date = Field(description="First day of the calendar month.")
    revenue: Money = Field(description="Invoice line amounts of the month, not draft/void.")
    recurring_revenue: Money = Field(description="Part of revenue: recurring or license.")
    labor_hours: Hours = Field(description="Time entry hours, absence excluded.")
    billable_hours: Hours = Field(description="Part of labor_hours that is billable.")
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
    confidence: Rate | None = Field(default=None, description=_CONFIDENCE)
    needs_review: bool | None = Field(default=None, description=_NEEDS_REVIEW)
    explanation: str | None = Field(default=None, description=_EXPLANATION)


class LicenseUtilizationRow(MartRow):
    """One product of one vendor for one client in one month."""

    client_id: str
    vendor: str | None = Field(description="Null when the license export names no vendor.")
    product: str
    month: date = Field(description="First day of the month of the license snapshot_date.")
    seats_purchased: int
    seats_assigned: int
    seats_active: int
    seats_billed: int | None = Field(description="Null when the export does not say.")
    unit_cost: Money = Field(description="Monthly cost per seat.")
    unit_price: Money | None = Field(description="Monthly price per seat billed to the client.")
    assignment_rate: Rate | None = Field(description="seats_assigned / seats_purchased.")
    utilization_rate: Rate | None = Field(description="seats_active / seats_purchased.")
    unused_seats: int = Field(description="max(seats_purchased - seats_active, 0).")
    monthly_waste: Money = Field(description="unused_seats x unit_cost.")
    unbilled_seats: int | None = Field(
        description="max(seats_assigned - seats_billed, 0); null when seats_billed is unknown."
    )
    monthly_leakage: Money | None = Field(
        description="unbilled_seats x unit_price; null when either is unknown."
    )
    utilization_band: str | None = Field(description="optimal, moderate, under or critical.")
    recommendation: str = Field(description="true_up, bill_client, reclaim or ok.")
    confidence: Rate | None = Field(default=None, description=_CONFIDENCE)
    needs_review: bool | None = Field(default=None, description=_NEEDS_REVIEW)
    explanation: str | None = Field(default=None, description=_EXPLANATION)


class StaffUtilizationRow(MartRow):
    """One staff member in one month."""

    staff_id: str
    staff_name: str | None
    month: date = Field(description="First day of the calendar month.")
    available_hours: Hours | None = Field(
        description="Contracted weekday hours minus absence; null when the staff record is unknown."
    )
    logged_hours: Hours = Field(description="Time entry hours, absence excluded.")
    billable_hours: Hours = Field(description="Part of logged_hours that is billable.")
    utilization: Rate | None = Field(description="billable_hours / available_hours.")
    logged_ratio: Rate | None = Field(description="logged_hours / available_hours.")
    overtime_hours: Hours | None = Field(description="max(logged - available hours, 0).")
    capacity_gap_hours: Hours | None = Field(
        description="available_hours x billable_target - billable_hours (positive = spare)."
    )
    band: str | None = Field(description="overloaded, under, near or on_target.")
    confidence: Rate | None = Field(default=None, description=_CONFIDENCE)
    needs_review: bool | None = Field(default=None, description=_NEEDS_REVIEW)
    explanation: str | None = Field(default=None, description=_EXPLANATION)


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
    status: Literal["ok"] = "ok"
    snapshot_id: str | None = Field(description="Current snapshot, null before the first.")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per-parameter validation errors (422 only)."
    )
