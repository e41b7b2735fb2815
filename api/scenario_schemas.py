"""Request and response models of the what-if scenarios (docs/insights.md#what-if).

A change is one of six kinds, told apart by `kind`; the core's dataclasses
(`moatmetrics.insights.scenarios`) are built from them, so the rules of each change live
there and the shapes here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from moatmetrics.insights import scenarios as core

#: An exact decimal written as a JSON number (its shortest form: 1234.5 stays 1234.5).
Number = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
Id = Annotated[str, Field(min_length=1, max_length=255)]
OptionalId = Annotated[str | None, Field(default=None, min_length=1, max_length=255)]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceIn(_Change):
    """The client's revenue of the month x (1 + percent / 100)."""

    kind: Literal["price"]
    client_id: Id
    percent: Number = Field(gt=-100, le=1000, max_digits=8, decimal_places=4)


class ReclaimIn(_Change):
    """Drop the unused seats of the matching license rows (all rows when nothing is named)."""

    kind: Literal["reclaim_unused_seats"]
    client_id: OptionalId = None
    vendor: OptionalId = None
    product: OptionalId = None


class BillIn(_Change):
    """Bill the unbilled seats of the matching license rows at their price per seat."""

    kind: Literal["bill_unbilled_seats"]
    client_id: OptionalId = None
    vendor: OptionalId = None
    product: OptionalId = None


class MoveHoursIn(_Change):
    """Move billable hours of the month from one staff member to another."""

    kind: Literal["move_hours"]
    from_staff_id: Id
    to_staff_id: Id
    hours: Number = Field(gt=0, le=10_000, max_digits=7, decimal_places=2)


class AddTechnicianIn(_Change):
    """A new person: available hours (weekly_hours / 5 x working days) at hourly_cost."""

    kind: Literal["add_technician"]
    name: str = Field(min_length=1, max_length=100)
    weekly_hours: Number = Field(gt=0, le=80, max_digits=5, decimal_places=2)
    billable_target: Number = Field(ge=0, le=1, max_digits=5, decimal_places=4)
    hourly_cost: Number = Field(ge=0, le=10_000, max_digits=8, decimal_places=2)


class RemoveTechnicianIn(_Change):
    """A person leaves: their available hours leave the team; their billable hours stay."""

    kind: Literal["remove_technician"]
    staff_id: Id


ChangeIn = Annotated[
    PriceIn | ReclaimIn | BillIn | MoveHoursIn | AddTechnicianIn | RemoveTechnicianIn,
    Field(discriminator="kind"),
]
Changes = Annotated[list[ChangeIn], Field(min_length=1, max_length=100)]


def to_core(changes: list[ChangeIn]) -> list[core.Change]:
    """The core's changes (the kinds map one to one)."""
    built: list[core.Change] = []
    for c in changes:
        if isinstance(c, PriceIn):
            built.append(core.PriceChange(c.client_id, c.percent))
        elif isinstance(c, ReclaimIn):
            built.append(core.ReclaimUnusedSeats(c.client_id, c.vendor, c.product))
        elif isinstance(c, BillIn):
            built.append(core.BillUnbilledSeats(c.client_id, c.vendor, c.product))
        elif isinstance(c, MoveHoursIn):
            built.append(core.MoveHours(c.from_staff_id, c.to_staff_id, c.hours))
        elif isinstance(c, AddTechnicianIn):
            built.append(
                core.AddTechnician(c.name, c.weekly_hours, c.billable_target, c.hourly_cost)
            )
        else:
            built.append(core.RemoveTechnician(c.staff_id))
    return built


class ScenarioEvaluate(BaseModel):
    """Changes to try on one month of the current snapshot (nothing is written)."""

    model_config = ConfigDict(extra="forbid")
    changes: Changes
    month: str | None = Field(
        default=None, max_length=7, description="YYYY-MM; default the last complete month."
    )


class ScenarioIn(BaseModel):
    """A named scenario to save and share (audited)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    description: str | None = Field(default=None, max_length=2000)
    changes: Changes


class MeasureOut(BaseModel):
    name: str = Field(description="The mart column (or portfolio total) it is.")
    today: Number | None
    scenario: Number | None
    change: Number | None = Field(description="scenario - today; null when either is null.")


class OutcomeOut(BaseModel):
    key: str = Field(description="client_id or staff_id.")
    name: str | None
    measures: list[MeasureOut]


class ScenarioResultOut(BaseModel):
    month: date = Field(description="The month of the marts the scenario changed.")
    snapshot_id: str
    portfolio: list[MeasureOut] = Field(
        description="Revenue, total cost, gross profit and margin, license waste and leakage "
        "over every client; available and billable hours, utilisation and capacity gap over "
        "the team."
    )
    clients: list[OutcomeOut] = Field(description="The clients the scenario changes.")
    staff: list[OutcomeOut] = Field(description="The staff members it changes.")
    notes: list[str] = Field(description="What could not apply, in words.")


class ScenarioOut(BaseModel):
    id: int
    name: str
    description: str | None
    changes: list[ChangeIn]
    created_by: str
    created_at: datetime


class ScenarioDetail(ScenarioOut):
    result: ScenarioResultOut = Field(
        description="The scenario on the last complete month of the current snapshot."
    )


class ScenarioList(BaseModel):
    total: int
    items: list[ScenarioOut]


def result_out(result: core.ScenarioResult, snapshot_id: str) -> ScenarioResultOut:
    def measures(items: tuple[core.Measure, ...]) -> list[MeasureOut]:
        return [MeasureOut(name=m.name, today=m.today, scenario=m.scenario, change=m.change)
                for m in items]  # fmt: skip

    return ScenarioResultOut(
        month=result.month,
        snapshot_id=snapshot_id,
        portfolio=measures(result.portfolio),
        clients=[
            OutcomeOut(key=o.key, name=o.name, measures=measures(o.measures))
            for o in result.clients
        ],  # fmt: skip
        staff=[
            OutcomeOut(key=o.key, name=o.name, measures=measures(o.measures)) for o in result.staff
        ],  # fmt: skip
        notes=result.notes,
    )
