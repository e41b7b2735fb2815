"""Explanations of license_utilization and staff_utilization rows (see `explanations`).

Both marts revolve around one ratio (active / purchased seats, billable / available hours),
so the drivers are the two parts of that ratio against the trailing three-month average,
split exactly with the symmetric rule, plus the portfolio median of the month (same product
across clients; the whole team).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moatmetrics.trust import formatting as fmt
from moatmetrics.trust.templates import (
    baseline,
    change_phrase,
    pick,
    ratio_contributions,
    top_phrases,
)


def _ratio_head(ratio: pd.Series, baseline_ratio: pd.Series, months: pd.Series) -> pd.Series:
    """', down from a 3-month average of 80%' (nothing without a baseline)."""
    points = np.rint(ratio * 100) - np.rint(baseline_ratio * 100)
    word = np.where(
        points == 0, ", level with ", np.where(points > 0, ", up from ", ", down from ")
    )
    text = word + baseline(months, fmt.percent(baseline_ratio))
    return pick(baseline_ratio.notna() & ratio.notna(), text, ratio.index)


def _trend_json(
    summary: pd.DataFrame,
    change: pd.DataFrame,
    contributions: pd.DataFrame,
    has_history: pd.Series,
    contributions_key: str,
) -> pd.Series:
    return fmt.nest(
        {
            "summary": fmt.json_objects(summary),
            "change": fmt.json_objects(change),
            contributions_key: fmt.json_objects(contributions),
        }
    ).where(has_history, "null")


# ------------------------------------------------------------------------ license utilization


def license_utilization(ev: pd.DataFrame) -> pd.DataFrame:
    """'12 of 20 seats active (60%), down from a 3-month average of 80%: active seats fell by
    4.0; $96 a month on 8 unused seats. Median utilization of this product across 14
    clients: 75%.'"""
    ev = ev.reset_index(drop=True)
    index = ev.index
    active, purchased = ev["seats_active"], ev["seats_purchased"]
    avg_active, avg_purchased = ev["avg_seats_active"], ev["avg_seats_purchased"]
    has_history = (ev["history_months"] > 0) & (avg_purchased > 0) & (purchased > 0)
    baseline_ratio = (avg_active / avg_purchased.where(avg_purchased > 0)).where(has_history)
    by_active, by_purchased = ratio_contributions(active, avg_active, purchased, avg_purchased)
    contributions = (
        pd.DataFrame({"seats_active": by_active, "seats_purchased": by_purchased})
        .where(has_history)
        .round(4)
    )
    change = pd.DataFrame(
        {
            "seats_active": (active - avg_active).round(2),
            "seats_purchased": (purchased - avg_purchased).round(2),
        }
    )
    summary = pd.DataFrame(
        {
            "months": ev["history_months"].astype("Int64"),
            "seats_active": avg_active.round(2),
            "seats_purchased": avg_purchased.round(2),
            "utilization_rate": baseline_ratio.round(4),
        }
    )
    phrases = np.column_stack(
        [
            (
                noun
                + pd.Series(np.where(change[column] > 0, " rose by ", " fell by "), index=index)
                + fmt.decimal1(change[column].abs())
            ).to_numpy(dtype=object)
            for noun, column in (
                ("active seats", "seats_active"),
                ("purchased seats", "seats_purchased"),
            )
        ]
    )
    (driver,) = top_phrases(contributions.to_numpy(float), phrases, 1)
    driver.index = index

    seats = fmt.integer(active) + " of " + fmt.integer(purchased) + " seats active"
    unknown_seats = (
        "Seats purchased "
        + pd.Series(np.where(purchased.isna(), "unknown", fmt.integer(purchased)), index=index)
        + "; active seats "
        + pd.Series(np.where(active.isna(), "unknown", fmt.integer(active)), index=index)
    )
    head = pd.Series(
        np.where(
            purchased.isna() | active.isna(),
            unknown_seats,
            np.where(
                purchased > 0,
                seats + " (" + fmt.percent(ev["utilization_rate"]) + ")",
                "No seats purchased; " + fmt.integer(active) + " active",
            ),
        ),
        index=index,
    )
    head = head + _ratio_head(
        ev["utilization_rate"], summary["utilization_rate"], ev["history_months"]
    )
    head = head + pick(has_history & (driver != ""), ": " + driver, index)
    unused, unbilled = ev["unused_seats"], ev["unbilled_seats"]
    head = head + pick(
        unused > 0,
        "; "
        + fmt.money(ev["monthly_waste"])
        + " a month on "
        + fmt.integer(unused)
        + " unused seats",
        index,
    )
    leakage = pick(
        ev["monthly_leakage"].notna(), " (" + fmt.money(ev["monthly_leakage"]) + " a month)", index
    )
    head = head + pick(
        unbilled > 0, "; " + fmt.integer(unbilled) + " assigned seats not billed" + leakage, index
    )
    head = head + pick(
        ev["seats_billed"].isna(), "; billed seats unknown, so leakage cannot be checked", index
    )
    head = head + _missing_facts(ev, index)
    portfolio = pick(
        ev["portfolio_clients"] >= 2,
        " Median utilization of this product across "
        + fmt.integer(ev["portfolio_clients"])
        + " clients: "
        + fmt.percent(ev["median_utilization_rate"])
        + ".",
        index,
    )
    portfolio_json = fmt.json_objects(
        pd.DataFrame(
            {
                "clients": ev["portfolio_clients"].astype("Int64"),
                "utilization_rate": ev["median_utilization_rate"].round(4),
            }
        )
    )
    drivers = fmt.nest(
        {
            "trailing_3m": _trend_json(
                summary,
                change,
                contributions,
                ev["history_months"] > 0,
                "utilization_contributions",
            ),
            "portfolio": portfolio_json,
        },
        {"portfolio": ev["portfolio_clients"].notna()},
    )
    return pd.DataFrame({"explanation": head + "." + portfolio, "drivers": drivers}, index=index)


#: What each fact of a license row assembled from vendor facts needs, named when it is
#: missing (the row's missing_facts column).
MISSING_FACT_PHRASES = {
    "purchased": "no purchase (purchased) fact: Partner Center reconciliation file not uploaded",
    "assigned": "no assignment (assigned) fact: M365 users export not uploaded",
    "active": "no usage (active) fact: M365 active users report not uploaded",
    "billed": "no billing (billed) fact: PSA agreement additions not uploaded",
}


def _missing_facts(ev: pd.DataFrame, index: pd.Index) -> pd.Series:
    """'; no usage (active) fact: M365 active users report not uploaded' per missing fact of
    an assembled row; empty for canonical rows (their explanation is unchanged)."""
    if "missing_facts" not in ev:
        return pd.Series("", index=index, dtype=object)
    assembled = ev["license_source"].eq("license_facts").to_numpy(bool)
    missing = ev["missing_facts"].fillna("").to_numpy(object)
    text = [
        "".join(f"; {MISSING_FACT_PHRASES[name]}" for name in str(names).split(",") if name)
        if is_assembled
        else ""
        for names, is_assembled in zip(missing, assembled, strict=True)
    ]
    return pd.Series(text, index=index, dtype=object)


# -------------------------------------------------------------------------- staff utilization


def staff_utilization(ev: pd.DataFrame) -> pd.DataFrame:
    """'Utilization 62% against a target of 75%, down from a 3-month average of 70%: billable
    hours fell 12% (-18.0 h); 4.0 hours of overtime. Team median utilization 74% across 14
    staff.'"""
    ev = ev.reset_index(drop=True)
    index = ev.index
    billable, available = ev["billable_hours"], ev["available_hours"]
    avg_billable, avg_available = ev["avg_billable_hours"], ev["avg_available_hours"]
    has_history = (ev["history_months"] > 0) & (avg_available > 0) & (available > 0)
    baseline_ratio = (avg_billable / avg_available.where(avg_available > 0)).where(has_history)
    by_billable, by_available = ratio_contributions(
        billable, avg_billable, available, avg_available
    )
    contributions = (
        pd.DataFrame({"billable_hours": by_billable, "available_hours": by_available})
        .where(has_history)
        .round(4)
    )
    change = pd.DataFrame(
        {
            c: (ev[c] - ev[f"avg_{c}"]).round(2)
            for c in ("logged_hours", "billable_hours", "available_hours")
        }
    )
    change_pct = pd.DataFrame(
        {
            c: (change[c] / ev[f"avg_{c}"].where(ev[f"avg_{c}"] > 0)).round(4)
            for c in ("billable_hours", "available_hours")
        }
    )
    summary = pd.DataFrame(
        {
            "months": ev["history_months"].astype("Int64"),
            "logged_hours": ev["avg_logged_hours"].round(2),
            "billable_hours": avg_billable.round(2),
            "available_hours": avg_available.round(2),
            "utilization": baseline_ratio.round(4),
        }
    )
    phrases = np.column_stack(
        [
            change_phrase(
                noun,
                change[column],
                change_pct[column],
                fmt.signed_decimal1(change[column]) + " h",
                fmt.decimal1(change[column].abs()) + " h",
            ).to_numpy(dtype=object)
            for noun, column in (
                ("billable hours", "billable_hours"),
                ("available hours", "available_hours"),
            )
        ]
    )
    (driver,) = top_phrases(contributions.to_numpy(float), phrases, 1)
    driver.index = index

    logged = ev["logged_hours"]
    unknown = (
        "Contract unknown (not in the staff file): "
        + fmt.decimal1(logged)
        + " hours logged, "
        + fmt.decimal1(billable)
        + " billable; utilization cannot be computed"
    )
    none_available = (
        "No available hours this month: all "
        + fmt.decimal1(logged)
        + " logged hours count as overtime"
    )
    target = ev["billable_target"]
    utilization = (
        "Utilization "
        + fmt.percent(ev["utilization"])
        + pd.Series(
            np.where(target.notna(), " against a target of " + fmt.percent(target), ""),
            index=index,
        )
    )
    utilization = utilization + _ratio_head(
        ev["utilization"], summary["utilization"], ev["history_months"]
    )
    utilization = utilization + pick(has_history & (driver != ""), ": " + driver, index)
    overtime = ev["overtime_hours"]
    utilization = utilization + pick(
        overtime > 0, "; " + fmt.decimal1(overtime) + " hours of overtime", index
    )
    head = pd.Series(
        np.where(available.isna(), unknown, np.where(available == 0, none_available, utilization)),
        index=index,
    )
    portfolio = pick(
        ev["portfolio_staff"].notna() & available.notna(),
        " Team median utilization "
        + fmt.percent(ev["median_utilization"])
        + " across "
        + fmt.integer(ev["portfolio_staff"])
        + " staff.",
        index,
    )
    portfolio_json = fmt.json_objects(
        pd.DataFrame(
            {
                "staff": ev["portfolio_staff"].astype("Int64"),
                "utilization": ev["median_utilization"].round(4),
            }
        )
    )
    drivers = fmt.nest(
        {
            "trailing_3m": fmt.nest(
                {
                    "summary": fmt.json_objects(summary),
                    "change": fmt.json_objects(change),
                    "change_pct": fmt.json_objects(change_pct),
                    "utilization_contributions": fmt.json_objects(contributions),
                }
            ).where(ev["history_months"] > 0, "null"),
            "portfolio": portfolio_json,
            "billable_target": target.round(4).map(lambda v: "null" if pd.isna(v) else repr(v)),
        },
        {"portfolio": ev["portfolio_staff"].notna()},
    )
    return pd.DataFrame({"explanation": head + "." + portfolio, "drivers": drivers}, index=index)
