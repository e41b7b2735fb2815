"""Why a row is in the review queue, in words a reviewer can act on, and what is at stake.

A low confidence means two different things. Most flagged client months on the demo data are
*unusual months*: the inputs are complete and clean, only the month is far from the client's
previous six (a lost contract, a busy project, a client about to leave). Others are *doubtful
data*: hours without a known cost, unknown billed seats, warnings on the input rows, missing
snapshots or timesheets. A reviewer checks the first against the business ("did revenue really
fall?") and the second against the files ("where is the staff cost?"), so the queue keeps them
apart:

- ``unusual_month``: the confidence without its consistency factor would reach the review
  threshold, so the flag comes from the month's distance from history alone;
- ``doubtful_data``: any other flagged row (a factor about the inputs is low).

Pure Python on the item's stored factors and row, so the API can use it without the trust
layer's pandas: the trust run stores the kind, the money at stake and the subject's name on
each item (`moatmetrics.trust.review`), and the API words them (`reason`, `weakest_factor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from moatmetrics.trust.tables import FACTOR_WEIGHTS, FACTORS

DOUBTFUL_DATA = "doubtful_data"
UNUSUAL_MONTH = "unusual_month"
#: Vendor rows whose client nothing resolves (held; docs/sources.md): not a mart row but a
#: question for a person, "which client is this?", answered by confirming an alias. Both the
#: kind and the queue's `mart` of these items (their row_key: source|key).
CLIENT_IDENTITY = "client_identity"
#: A month the anomaly detector lists (`moatmetrics.insights.anomalies`): not a doubt about
#: the data but a question for the business, "is this real, and what do we do?"; a rejected
#: (dismissed) one stays so until its numbers change. Both the kind and the queue's `mart`
#: of these items are `anomalies`' own.
ANOMALY = "anomaly"
#: The kinds of review item, and how the console names them.
KINDS: dict[str, str] = {
    DOUBTFUL_DATA: "Doubtful data",
    UNUSUAL_MONTH: "Unusual month",
    CLIENT_IDENTITY: "Unknown client",
    ANOMALY: "Anomaly",
}

#: What a low factor means, per mart where it differs (the factor table of docs/trust.md).
_LOW_FACTOR: dict[str, dict[str, str]] = {
    "cost_completeness": {
        "client_profitability": "some labour hours have no known staff cost",
        "license_utilization": "the billed seats or the unit price are unknown",
        "staff_utilization": "the staff member's contract is not in the staff file",
    },
    "evidence_volume": {"": "few input rows stand behind the numbers"},
    "data_quality": {"": "input rows carry data-quality warnings"},
    "consistency": {"": "the month is far from the previous six months"},
    "coverage": {
        "client_profitability": "license snapshots of this month are missing",
        "license_utilization": "months of license snapshots are missing",
        "staff_utilization": "working days have no time logged",
    },
}
_ENTITY = {
    "client_profitability": "the client",
    "license_utilization": "this licence",
    "staff_utilization": "the staff member",
}
#: What `money_at_stake` is, per mart (None: the mart has no dollar figure).
MONEY_AT_STAKE: dict[str, str | None] = {
    "client_profitability": "revenue or total cost of the month, whichever is larger",
    "license_utilization": "monthly waste plus monthly leakage (unknown leakage counts 0)",
    "staff_utilization": None,
    "anomalies": "how far a money anomaly is from its usual level (hours and seats: none)",
}


def factor_values(factors: Mapping[str, Any]) -> dict[str, float]:
    """The five factors by short name (stored as ``confidence_<name>``); missing ones left out."""
    values: dict[str, float] = {}
    for name in FACTORS:
        value = factors.get(f"confidence_{name}", factors.get(name))
        if isinstance(value, int | float) and not math.isnan(value):
            values[name] = float(value)
    return values


def weakest_factor(factors: Mapping[str, Any], *, exclude: str | None = None) -> str | None:
    """The factor that lowers confidence most (factor ** weight smallest); ties: table order."""
    values = {k: v for k, v in factor_values(factors).items() if k != exclude}
    if not values:
        return None
    return min(values, key=lambda name: values[name] ** FACTOR_WEIGHTS[name])


def reason_kind(factors: Mapping[str, Any], threshold: float) -> str:
    """`unusual_month` when the row would pass without its consistency factor, else doubtful."""
    values = factor_values(factors)
    without = math.prod(
        values[name] ** FACTOR_WEIGHTS[name] for name in values if name != "consistency"
    )
    low_consistency = values.get("consistency", 1.0) < 1.0
    return UNUSUAL_MONTH if low_consistency and without >= threshold else DOUBTFUL_DATA


def money_at_stake(mart: str, row: Mapping[str, Any]) -> float | None:
    """The dollars the row's numbers are about (see `MONEY_AT_STAKE`), rounded to cents."""

    def amount(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    if mart == "client_profitability":
        known = [v for v in (amount("revenue"), amount("total_cost")) if v is not None]
        return round(max(abs(v) for v in known), 2) if known else None
    if mart == "license_utilization":
        waste, leakage = amount("monthly_waste"), amount("monthly_leakage")
        if waste is None and leakage is None:
            return None
        return round((waste or 0.0) + (leakage or 0.0), 2)
    if mart == "anomalies" and row.get("unit") == "money":
        value, expected = amount("value"), amount("expected")
        if value is not None and expected is not None:
            return round(abs(value - expected), 2)
    return None


def factor_name(name: str) -> str:
    return name.replace("_", " ")


def low_factor_meaning(mart: str, name: str) -> str:
    meanings = _LOW_FACTOR.get(name, {})
    return meanings.get(mart) or meanings.get("", factor_name(name))


def reason(
    mart: str, kind: str | None, factors: Mapping[str, Any], explanation: str | None = None
) -> str:
    """One sentence: why the row is flagged, naming the factor behind it and its value (an
    anomaly: what is unusual, its `explanation`)."""
    values = factor_values(factors)
    if kind == ANOMALY:
        what = explanation or "a month far from its own history and its peers."
        return (
            f"Anomaly: {what} Check whether it is real; reject it to dismiss it until its "
            "numbers change."
        )
    if kind == CLIENT_IDENTITY:
        return (
            "Unknown client: vendor rows name a client that no alias and no client name"
            " matches; they are held out of the marts until you confirm which client it is."
        )
    if kind == UNUSUAL_MONTH:
        consistency = values.get("consistency")
        shown = "" if consistency is None else f" (consistency {consistency * 100:.0f} %)"
        return (
            f"Unusual month: the numbers are far from the previous six months of "
            f"{_ENTITY.get(mart, 'this row')}{shown}; the inputs look complete, so check "
            "whether the change is real."
        )
    # Doubtful data is about the inputs: name the weakest factor other than consistency.
    weakest = weakest_factor(factors, exclude="consistency" if kind == DOUBTFUL_DATA else None)
    if weakest is None:
        return "Flagged for review; no confidence factors were recorded."
    prefix = "Doubtful data" if kind == DOUBTFUL_DATA else "Low confidence"
    also = ""
    if kind == DOUBTFUL_DATA and values.get("consistency", 1.0) < 1.0:
        also = "; the month is also unusual for " + _ENTITY.get(mart, "this row")
    return (
        f"{prefix}: {factor_name(weakest)} is {values[weakest] * 100:.0f} %"
        f" because {low_factor_meaning(mart, weakest)}{also}."
    )
