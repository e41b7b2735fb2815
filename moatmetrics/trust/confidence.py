"""Confidence: five named factors in [0, 1] per mart row, combined by one fixed rule.

Each factor answers one question about the row, from evidence of the row's own entity only
(see `moatmetrics.trust.evidence`):

- cost completeness: are the inputs the number needs known (hours with a known staff cost,
  the contract behind available hours, the billed seats and price of a licence, and for a
  licence row assembled from vendor facts its purchased, assigned and active seats)?
- evidence volume: how many input rows is the number built on? ``n / (n + k)``;
- data quality: the share of those input rows that carry no data-quality warning;
- consistency: how usual is the row for its entity? Distance from the mean of the entity's
  previous six months, in units of their spread;
- coverage: are the snapshots or timesheets the number needs present?

Rule (``docs/trust.md``): every factor is rounded to 4 places, then
``confidence = product(factor ** weight)``, rounded to 4 places. A factor of 1 changes
nothing; weight 1 means that factor alone at 0.7 brings the row down to the default review
threshold; evidence volume has weight 1/2 because few inputs make a number noisy, not wrong.
The rule is monotone in every factor and deterministic (same evidence, same digits).

The factors are SQL expressions over the evidence relation's columns (all numbers as DOUBLE),
evaluated by DuckDB over whole columns (`moatmetrics.trust.scoring`). SQL's NULL plays the
part of a missing value: where a factor's inputs are unknown the rule below says what it is.
"""

from __future__ import annotations

from moatmetrics.trust.tables import FACTOR_WEIGHTS, FACTORS

#: The weight of each factor (kept in `tables` so the API can name a row's weakest factor
#: without importing the trust layer).
WEIGHTS: dict[str, float] = FACTOR_WEIGHTS

#: Consistency: within Z_TOLERANCE spreads of the entity's six-month mean scores 1; every
#: further spread halves the factor. The spread is the sample standard deviation, at least
#: RELATIVE_SPREAD of the mean and the FLOORS; with fewer than MIN_SPREAD_MONTHS months of
#: history there is no standard deviation and the relative spread is EARLY_RELATIVE_SPREAD.
Z_TOLERANCE = 3.0
Z_HALVING = 1.0
RELATIVE_SPREAD = 0.1
EARLY_RELATIVE_SPREAD = 0.25
MIN_SPREAD_MONTHS = 3
#: Consistency when there is no earlier month to compare with: unverified, not contradicted.
NO_HISTORY = 0.9

#: Evidence volume ``n / (n + k)``: the input count at which the factor is one half.
EVIDENCE_HALF = {"client_profitability": 3.0, "license_utilization": 0.5, "staff_utilization": 5.0}
FLOORS = {"money": 100.0, "hours": 5.0, "ratio": 0.05, "seats": 2.0}
#: Staff coverage: share of working days with time logged that counts as complete.
FULL_TIMESHEET = 0.9

#: A license row assembled from vendor facts loses this share of its cost completeness for
#: each of its seat facts (purchased, assigned, active) no export supplied: one missing fact
#: alone brings the row to the default review threshold.
MISSING_FACT_FACTOR = 0.7
SEAT_FACTS = ("purchased", "assigned", "active")


def share(good: str, total: str) -> str:
    """good / total, clipped to [0, 1]; 1 when there is nothing to be incomplete (or either
    side is unknown)."""
    return (
        f"CASE WHEN ({total}) > 0 AND ({good}) IS NOT NULL"
        f" THEN least(greatest(({good}) / ({total}), 0.0), 1.0) ELSE 1.0 END"
    )


def evidence_volume(count: str, half: float) -> str:
    return f"greatest({count}, 0.0) / (greatest({count}, 0.0) + {half!r})"


def spread_distance(column: str, floor: float) -> str:
    """|value - six-month mean| / spread: how unusual the value is for this entity; NULL
    without a mean (no history) or a value."""
    mean, sd = f"hist_avg_{column}", f"hist_sd_{column}"
    enough = f"hist_n >= {MIN_SPREAD_MONTHS}"
    spread = (
        f"greatest(CASE WHEN {enough} THEN coalesce({sd}, 0.0) ELSE 0.0 END,"
        f" CASE WHEN {enough} THEN {RELATIVE_SPREAD!r} ELSE {EARLY_RELATIVE_SPREAD!r} END"
        f" * abs({mean}), {floor!r})"
    )
    return f"(CASE WHEN {mean} IS NOT NULL THEN abs({column} - {mean}) / {spread} END)"


def worst_distance(columns: dict[str, float]) -> str:
    """The largest known distance (greatest skips NULLs), NULL when none is known."""
    return "greatest(" + ", ".join(spread_distance(c, f) for c, f in columns.items()) + ")"


def consistency(distance: str) -> str:
    """1 within Z_TOLERANCE spreads, halving with every further Z_HALVING spreads; NO_HISTORY
    without history or a distance."""
    excess = f"greatest(({distance}) - {Z_TOLERANCE!r}, 0.0)"
    return (
        f"CASE WHEN hist_n > 0 AND ({distance}) IS NOT NULL"
        f" THEN pow(2.0, -{excess} / {Z_HALVING!r}) ELSE {NO_HISTORY!r} END"
    )


def missing_seat_facts() -> str:
    """How many seat facts an assembled row lacks (0 for canonical license rows, which the
    file states whole)."""
    facts = ", ".join(f"'{name}'" for name in SEAT_FACTS)
    return (
        "CASE WHEN license_source = 'license_facts' THEN len(list_filter("
        "string_split(coalesce(missing_facts, ''), ','),"
        f" lambda name: name IN ({facts}))) ELSE 0 END"
    )


def client_profitability(columns: set[str]) -> dict[str, str]:
    distance = worst_distance(
        {"revenue": FLOORS["money"], "total_cost": FLOORS["money"], "labor_hours": FLOORS["hours"]}
    )
    return {
        "cost_completeness": share("labor_hours - labor_cost_unknown_hours", "labor_hours"),
        "evidence_volume": evidence_volume("input_rows", EVIDENCE_HALF["client_profitability"]),
        "data_quality": share("input_rows - warned_rows", "input_rows"),
        "consistency": consistency(distance),
        "coverage": share("products_covered", "products_expected"),
    }


def license_utilization(columns: set[str]) -> dict[str, str]:
    known = "(CAST(seats_billed IS NOT NULL AS DOUBLE) + CAST(unit_price IS NOT NULL AS DOUBLE))"
    missing = missing_seat_facts() if "missing_facts" in columns else "0"
    distance = worst_distance({"seats_purchased": FLOORS["seats"], "seats_active": FLOORS["seats"]})
    return {
        "cost_completeness": f"{known} / 2.0 * pow({MISSING_FACT_FACTOR!r}, {missing})",
        "evidence_volume": evidence_volume("snapshot_months", EVIDENCE_HALF["license_utilization"]),
        "data_quality": share("input_rows - warned_rows", "input_rows"),
        "consistency": consistency(distance),
        "coverage": share("history_months", "expected_history_months"),
    }


def staff_utilization(columns: set[str]) -> dict[str, str]:
    """Consistency compares ratios to available hours (a joiner's or leaver's partial month is
    not an outlier); without a contract, it falls back to logged and billable hours."""
    by_ratio = worst_distance({"logged_ratio": FLOORS["ratio"], "utilization": FLOORS["ratio"]})
    by_hours = worst_distance({"logged_hours": FLOORS["hours"], "billable_hours": FLOORS["hours"]})
    distance = (
        "CASE WHEN logged_ratio IS NOT NULL AND hist_avg_logged_ratio IS NOT NULL"
        f" THEN {by_ratio} ELSE {by_hours} END"
    )
    working_days = "greatest(employed_weekdays - absence_days, 0.0)"
    timesheet = share("logged_days", f"{working_days} * {FULL_TIMESHEET!r}")
    return {
        "cost_completeness": "CAST(available_hours IS NOT NULL AS DOUBLE)",
        "evidence_volume": evidence_volume("input_rows", EVIDENCE_HALF["staff_utilization"]),
        "data_quality": share("input_rows - warned_rows", "input_rows"),
        "consistency": consistency(distance),
        "coverage": f"CASE WHEN employed_weekdays IS NOT NULL THEN {timesheet} ELSE 1.0 END",
    }


FACTOR_SQL = {
    "client_profitability": client_profitability,
    "license_utilization": license_utilization,
    "staff_utilization": staff_utilization,
}


def combined() -> str:
    """confidence = product(factor ** weight) over the (rounded) ``confidence_<name>`` columns,
    each clipped to [0, 1], rounded to 4 places."""
    product = "1.0"
    for name in FACTORS:
        clipped = f"least(greatest(confidence_{name}, 0.0), 1.0)"
        product = f"({product} * pow({clipped}, {WEIGHTS[name]!r}))"
    return f"mm_round({product}, 4)"


def select_list(mart: str, columns: set[str], threshold: float) -> str:
    """``confidence``, ``confidence_<factor>`` and ``needs_review`` as SQL over the evidence
    relation (`columns`: its column names): factors rounded to 4 places, then combined."""
    factors = FACTOR_SQL[mart](columns)
    rounded = [
        f"mm_round(CAST({factors[name]} AS DOUBLE), 4) AS confidence_{name}" for name in FACTORS
    ]
    return ",\n    ".join(
        [
            *rounded,
            f"{combined()} AS confidence",
            f"coalesce(confidence < {threshold!r}, false) AS needs_review",
        ]
    )
