"""Mart codes said in words, with the money they are about.

The marts carry short codes (`reclaim`, `confidence_coverage`); an owner reading the console
needs the action and what it is worth a month: "Reclaim 3 unused seats: $54/month".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from moatmetrics.trust.tables import FACTORS


def _money(value: Any) -> str:
    amount = Decimal(str(value or 0))
    return f"${amount:,.0f}"


def _seats(count: int, kind: str = "") -> str:
    """'1 seat', '3 unused seats'."""
    words = f"{count} {kind} seat" if kind else f"{count} seat"
    return words if count == 1 else words + "s"


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name, None)


def recommendation(row: Any) -> str:
    """A license row's recommendation as an action with its monthly money."""
    code = _get(row, "recommendation")
    unused = int(_get(row, "unused_seats") or 0)
    unbilled = int(_get(row, "unbilled_seats") or 0)
    waste = _get(row, "monthly_waste") or 0
    leakage = _get(row, "monthly_leakage") or 0
    if code == "true_up":
        over = int(_get(row, "seats_assigned") or 0) - int(_get(row, "seats_purchased") or 0)
        return f"True up: {_seats(over)} assigned beyond those bought; buy or unassign them"
    if code == "bill_client":
        return f"Bill the client for {_seats(unbilled, 'unbilled')}: {_money(leakage)}/month"
    if code == "reclaim":
        return f"Reclaim {_seats(unused, 'unused')}: {_money(waste)}/month"
    if unused > 0 and Decimal(str(waste)) > 0:
        return f"Keep as headroom: {_seats(unused, 'unused')}, {_money(waste)}/month"
    return "Nothing to do: seats match use"


#: What a weak confidence factor of a client month means is missing or doubtful.
FACTOR_WORDS: dict[str, str] = {
    "cost_completeness": "staff cost unknown for some hours (staff file incomplete)",
    "evidence_volume": "few input rows this month",
    "data_quality": "input rows with data-quality warnings",
    "consistency": "numbers far from the client's last six months",
    "coverage": "license snapshots missing for products seen around this month",
}


def weakest_factor(row: Mapping[str, Any]) -> str | None:
    """The trust factor that pulls the row's confidence down most, in words."""
    factors: dict[str, float] = {
        name: float(row[f"confidence_{name}"])
        for name in FACTORS
        if row.get(f"confidence_{name}") is not None
    }
    if not factors:
        return None
    name = min(factors, key=lambda n: (factors[n], n))
    return FACTOR_WORDS[name] if factors[name] < 1 else None


def missing_data(row: Mapping[str, Any]) -> str:
    """Why a client month probably lacks data: hours without invoices first, else the
    weakest confidence factor."""
    revenue = Decimal(str(row.get("revenue") or 0))
    hours = Decimal(str(row.get("labor_hours") or 0))
    if revenue == 0 and hours > 0:
        return f"no invoices this month although {hours:,.1f} hours were logged"
    return weakest_factor(row) or "low confidence"
