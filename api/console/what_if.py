"""The what-if page's form: one field group per kind of change, read into the API's change
models (`api.scenario_schemas`), so the page and `POST /api/v1/scenarios/evaluate` accept and
refuse exactly the same scenarios. No script: the form is a GET, its answer a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.scenario_schemas import ChangeIn
from moatmetrics.insights.scenarios import MonthMarts

#: The form's fields (query parameters), by the change they make.
FIELDS = (
    "price_client", "price_percent",
    "reclaim", "reclaim_vendor", "reclaim_product",
    "bill", "bill_vendor", "bill_product",
    "move_from", "move_to", "move_hours",
    "add_name", "add_weekly_hours", "add_target", "add_cost",
    "remove_staff",
)  # fmt: skip

#: How each portfolio, client and staff measure is named and shown (money, percent, hours).
MEASURES: dict[str, tuple[str, str]] = {
    "revenue": ("Revenue", "money"),
    "total_cost": ("Total cost", "money"),
    "gross_profit": ("Gross profit", "money"),
    "gross_margin": ("Gross margin", "percent"),
    "effective_hourly_rate": ("Effective hourly rate", "money"),
    "monthly_waste": ("License waste", "money"),
    "monthly_leakage": ("License leakage", "money"),
    "available_hours": ("Available hours", "hours"),
    "billable_hours": ("Billable hours", "hours"),
    "utilization": ("Utilisation", "percent"),
    "capacity_gap_hours": ("Spare capacity (h)", "hours"),
}

_CHANGES = TypeAdapter(list[ChangeIn])


@dataclass(frozen=True)
class Choices:
    """Who the form's selects offer: the month's clients and staff (id, label)."""

    clients: list[tuple[str, str]]
    staff: list[tuple[str, str]]


def choices(marts: MonthMarts) -> Choices:
    client_rows = zip(marts.clients["client_id"], marts.clients["client_name"], strict=True)
    staff_rows = zip(marts.staff["staff_id"], marts.staff["staff_name"], strict=True)
    clients = [(str(i), f"{n or i} ({i})") for i, n in client_rows]
    staff = [(str(i), f"{n or i} ({i})") for i, n in staff_rows]
    return Choices(sorted(clients, key=lambda c: c[1]), sorted(staff, key=lambda s: s[1]))


def form_values(params: Mapping[str, str]) -> dict[str, str]:
    return {name: (params.get(name) or "").strip() for name in FIELDS}


def changes_from_form(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """The changes the filled-in field groups ask for (an empty group asks for none)."""
    changes: list[dict[str, Any]] = []
    if form["price_client"] or form["price_percent"]:
        changes.append({"kind": "price", "client_id": form["price_client"],
                        "percent": form["price_percent"] or None})  # fmt: skip
    for kind, flag in (("reclaim_unused_seats", "reclaim"), ("bill_unbilled_seats", "bill")):
        if form[flag]:
            changes.append({"kind": kind, "vendor": form[f"{flag}_vendor"] or None,
                            "product": form[f"{flag}_product"] or None})  # fmt: skip
    if form["move_from"] or form["move_to"] or form["move_hours"]:
        changes.append({"kind": "move_hours", "from_staff_id": form["move_from"],
                        "to_staff_id": form["move_to"],
                        "hours": form["move_hours"] or None})  # fmt: skip
    if any(form[f] for f in ("add_name", "add_weekly_hours", "add_target", "add_cost")):
        changes.append({"kind": "add_technician", "name": form["add_name"],
                        "weekly_hours": form["add_weekly_hours"] or None,
                        "billable_target": form["add_target"] or None,
                        "hourly_cost": form["add_cost"] or None})  # fmt: skip
    if form["remove_staff"]:
        changes.append({"kind": "remove_technician", "staff_id": form["remove_staff"]})
    return changes


def parse(changes: list[dict[str, Any]]) -> list[ChangeIn]:
    """The API's change models; ValueError naming the field and the fix when one is wrong."""
    try:
        return _CHANGES.validate_python(changes)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = [str(p) for p in problem["loc"] if not str(p).isdigit()]
        raise ValueError(f"{' '.join(where[-1:]) or 'change'}: {problem['msg']}") from None


def form_of(changes: list[ChangeIn]) -> dict[str, str]:
    """A saved scenario's changes back in the form's fields (its first change of each kind)."""
    form = dict.fromkeys(FIELDS, "")
    for change in reversed(changes):
        data = change.model_dump(mode="json")
        kind = data.pop("kind")
        if kind == "price":
            form.update(price_client=data["client_id"], price_percent=str(data["percent"]))
        elif kind in ("reclaim_unused_seats", "bill_unbilled_seats"):
            flag = "reclaim" if kind == "reclaim_unused_seats" else "bill"
            form.update({flag: "on", f"{flag}_vendor": data["vendor"] or "",
                         f"{flag}_product": data["product"] or ""})  # fmt: skip
        elif kind == "move_hours":
            form.update(move_from=data["from_staff_id"], move_to=data["to_staff_id"],
                        move_hours=str(data["hours"]))  # fmt: skip
        elif kind == "add_technician":
            form.update(add_name=data["name"], add_weekly_hours=str(data["weekly_hours"]),
                        add_target=str(data["billable_target"]),
                        add_cost=str(data["hourly_cost"]))  # fmt: skip
        else:
            form.update(remove_staff=data["staff_id"])
    return form
