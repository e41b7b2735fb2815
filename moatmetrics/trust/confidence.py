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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moatmetrics.trust.tables import FACTOR_COLUMNS, FACTOR_WEIGHTS, FACTORS

#: The weight of each factor (kept in `tables` so the API can name a row's weakest factor
#: without importing pandas).
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


def share(good: pd.Series, total: pd.Series) -> pd.Series:
    """good / total, clipped to [0, 1]; 1 when there is nothing to be incomplete."""
    total = total.astype(float)
    ratio = good.astype(float) / total.where(total > 0)
    return ratio.clip(0.0, 1.0).fillna(1.0)


def evidence_volume(count: pd.Series, half: float) -> pd.Series:
    count = count.astype(float).clip(lower=0.0)
    return count / (count + half)


def spread_distance(ev: pd.DataFrame, column: str, floor: float) -> pd.Series:
    """|value - six-month mean| / spread: how unusual the value is for this entity."""
    mean = ev[f"hist_avg_{column}"]
    enough = ev["hist_n"] >= MIN_SPREAD_MONTHS
    sd = ev[f"hist_sd_{column}"].where(enough).fillna(0.0)
    relative = np.where(enough, RELATIVE_SPREAD, EARLY_RELATIVE_SPREAD) * mean.abs()
    spread = np.maximum(np.maximum(sd, relative), floor)
    return (ev[column].astype(float) - mean).abs() / spread


def worst_distance(ev: pd.DataFrame, columns: dict[str, float]) -> pd.Series:
    distances = [spread_distance(ev, column, floor) for column, floor in columns.items()]
    return pd.concat(distances, axis=1).max(axis=1, skipna=True)


def consistency(distance: pd.Series, history_months: pd.Series) -> pd.Series:
    """1 within Z_TOLERANCE spreads, halving with every further Z_HALVING spreads."""
    excess = (distance - Z_TOLERANCE).clip(lower=0.0)
    factor = np.exp2(-excess / Z_HALVING)
    return factor.where(history_months > 0, NO_HISTORY).fillna(NO_HISTORY)


def combine(factors: pd.DataFrame) -> pd.Series:
    """confidence = product(factor ** weight) over the rounded factors, rounded to 4 places."""
    result = pd.Series(1.0, index=factors.index)
    for name in FACTORS:
        result = result * np.power(factors[f"confidence_{name}"].clip(0.0, 1.0), WEIGHTS[name])
    return result.round(4)


def _frame(**factors: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({f"confidence_{name}": factors[name] for name in FACTORS})
    frame = frame[list(FACTOR_COLUMNS)].astype(float).round(4)
    frame.insert(0, "confidence", combine(frame))
    return frame


def client_profitability(ev: pd.DataFrame) -> pd.DataFrame:
    distance = worst_distance(
        ev,
        {"revenue": FLOORS["money"], "total_cost": FLOORS["money"], "labor_hours": FLOORS["hours"]},
    )
    return _frame(
        cost_completeness=share(
            ev["labor_hours"] - ev["labor_cost_unknown_hours"], ev["labor_hours"]
        ),
        evidence_volume=evidence_volume(ev["input_rows"], EVIDENCE_HALF["client_profitability"]),
        data_quality=share(ev["input_rows"] - ev["warned_rows"], ev["input_rows"]),
        consistency=consistency(distance, ev["hist_n"]),
        coverage=share(ev["products_covered"], ev["products_expected"]),
    )


#: A license row assembled from vendor facts loses this share of its cost completeness for
#: each of its seat facts (purchased, assigned, active) no export supplied: one missing fact
#: alone brings the row to the default review threshold.
MISSING_FACT_FACTOR = 0.7
SEAT_FACTS = ("purchased", "assigned", "active")


def missing_seat_facts(ev: pd.DataFrame) -> pd.Series:
    """How many seat facts an assembled row lacks (0 for canonical license rows, which the
    file states whole)."""
    if "missing_facts" not in ev:
        return pd.Series(0, index=ev.index)
    assembled = ev["license_source"].eq("license_facts")
    facts = ev["missing_facts"].fillna("").str.split(",")
    count = facts.map(lambda names: sum(name in SEAT_FACTS for name in names))
    return count.where(assembled, 0)


def license_utilization(ev: pd.DataFrame) -> pd.DataFrame:
    known = ev["seats_billed"].notna().astype(float) + ev["unit_price"].notna().astype(float)
    fact_share = np.power(MISSING_FACT_FACTOR, missing_seat_facts(ev).astype(float))
    distance = worst_distance(
        ev, {"seats_purchased": FLOORS["seats"], "seats_active": FLOORS["seats"]}
    )
    return _frame(
        cost_completeness=known / 2.0 * fact_share,
        evidence_volume=evidence_volume(
            ev["snapshot_months"], EVIDENCE_HALF["license_utilization"]
        ),
        data_quality=share(ev["input_rows"] - ev["warned_rows"], ev["input_rows"]),
        consistency=consistency(distance, ev["hist_n"]),
        coverage=share(ev["history_months"], ev["expected_history_months"]),
    )


def staff_utilization(ev: pd.DataFrame) -> pd.DataFrame:
    """Consistency compares ratios to available hours (a joiner's or leaver's partial month is
    not an outlier); without a contract, it falls back to logged and billable hours."""
    by_ratio = worst_distance(ev, {"logged_ratio": FLOORS["ratio"], "utilization": FLOORS["ratio"]})
    by_hours = worst_distance(
        ev, {"logged_hours": FLOORS["hours"], "billable_hours": FLOORS["hours"]}
    )
    distance = by_ratio.where(
        ev["logged_ratio"].notna() & ev["hist_avg_logged_ratio"].notna(), by_hours
    )
    working_days = (ev["employed_weekdays"] - ev["absence_days"]).clip(lower=0)
    timesheet = share(ev["logged_days"], working_days * FULL_TIMESHEET)
    return _frame(
        cost_completeness=ev["available_hours"].notna().astype(float),
        evidence_volume=evidence_volume(ev["input_rows"], EVIDENCE_HALF["staff_utilization"]),
        data_quality=share(ev["input_rows"] - ev["warned_rows"], ev["input_rows"]),
        consistency=consistency(distance, ev["hist_n"]),
        coverage=timesheet.where(ev["employed_weekdays"].notna(), 1.0),
    )


SCORERS = {
    "client_profitability": client_profitability,
    "license_utilization": license_utilization,
    "staff_utilization": staff_utilization,
}


def score(mart: str, evidence: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """confidence, the factor columns and needs_review (confidence < threshold) per row."""
    frame = SCORERS[mart](evidence)
    frame["needs_review"] = frame["confidence"] < threshold
    return frame
