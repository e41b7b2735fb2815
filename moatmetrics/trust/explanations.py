"""Explanations: a short sentence and machine-readable drivers for every mart row.

Drivers compare the row with the entity's trailing three-month average and with the
portfolio median of the month. A ratio's change is split exactly between its parts with the
symmetric (two-player Shapley) rule: for ``y = a / b`` against a baseline ``a0 / b0``,
``a`` contributes ``(a - a0) * (1/b + 1/b0) / 2`` and ``b`` contributes
``(a + a0) / 2 * (1/b - 1/b0)``; the two add up to ``y - y0``. For the margin,
``1 - cost / revenue``, each cost plays the part of ``a`` with a minus sign.

Sentences are templates filled only with values stored in the row (its columns or its
``drivers``), rendered by `moatmetrics.trust.formatting`; a driver is named only when it moved
the ratio by at least one percentage point. Everything is computed column-wise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moatmetrics.trust import formatting as fmt
from moatmetrics.trust.templates import (
    STEADY,
    baseline,
    change_phrase,
    hours_detail,
    join_and,
    pick,
    ratio_contributions,
    top_phrases,
)

#: A portfolio gap in a cost share is named from this size on (five percentage points).
MIN_PORTFOLIO_GAP = 0.05


# ------------------------------------------------------------------------ client profitability

_COSTS = ("labor_cost", "license_cost", "other_cost")
_COMPONENTS = ("revenue", *_COSTS)
_NOUNS = {
    "revenue": "revenue",
    "labor_cost": "labour cost",
    "license_cost": "license cost",
    "other_cost": "other costs",
}
_TAKES = {
    "labor_cost": "labour takes",
    "license_cost": "licenses take",
    "other_cost": "other costs take",
}


def _profitability_drivers(ev: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Trailing and portfolio comparisons; margin = 1 - cost / revenue, split per component."""
    measures = (*_COMPONENTS, "labor_hours")
    revenue = ev["revenue"].where(ev["revenue"] > 0)
    avg_revenue = ev["avg_revenue"].where(ev["avg_revenue"] > 0)
    avg_cost = ev["avg_labor_cost"] + ev["avg_license_cost"] + ev["avg_other_cost"]
    with_margins = revenue.notna() & avg_revenue.notna() & (ev["history_months"] > 0)
    avg_margin = (avg_revenue - avg_cost) / avg_revenue
    trailing = pd.DataFrame(
        {
            "months": ev["history_months"].astype("Int64"),
            **{c: ev[f"avg_{c}"].round(2) for c in measures},
            "gross_margin": avg_margin.round(4),
        }
    )
    delta = pd.DataFrame({c: ev[c] - ev[f"avg_{c}"] for c in measures})
    base = pd.DataFrame({c: ev[f"avg_{c}"].abs() for c in measures})
    # Each cost lowers the margin by its own change; revenue by the change of 1 / revenue.
    by_revenue = -ratio_contributions(ev["total_cost"], avg_cost, revenue, avg_revenue)[1]
    by_cost = {
        c: -ratio_contributions(ev[c], ev[f"avg_{c}"], revenue, avg_revenue)[0] for c in _COSTS
    }
    contributions = pd.DataFrame({"revenue": by_revenue, **by_cost}).where(with_margins)
    shares = pd.DataFrame({c: ev[c] / revenue for c in _COSTS})
    medians = pd.DataFrame({c: ev[f"median_{c.split('_')[0]}_share"] for c in _COSTS})
    gaps = medians - shares
    margin_gap = ev["gross_margin"] - ev["median_gross_margin"]
    portfolio = pd.DataFrame(
        {
            "clients": ev["portfolio_clients"].astype("Int64"),
            "gross_margin": ev["median_gross_margin"].round(4),
            "effective_hourly_rate": ev["median_effective_hourly_rate"].round(2),
        }
    )
    return {
        "trailing": trailing,
        "change": delta.round(2),
        "change_pct": (delta / base.where(base > 0)).round(4),
        "contributions": contributions.round(4),
        "shares": shares.round(4),
        "median_shares": medians.round(4),
        "portfolio_contributions": gaps.round(4),
        "unexplained": pd.DataFrame({"unexplained": (margin_gap - gaps.sum(axis=1)).round(4)}),
        "portfolio": portfolio,
        "with_margins": pd.DataFrame({"ok": with_margins}),
    }


def _profitability_drivers_json(ev: pd.DataFrame, d: dict[str, pd.DataFrame]) -> pd.Series:
    trailing = fmt.nest(
        {
            "summary": fmt.json_objects(d["trailing"]),
            "change": fmt.json_objects(d["change"]),
            "change_pct": fmt.json_objects(d["change_pct"]),
            "margin_contributions": fmt.json_objects(d["contributions"]),
        },
        {"margin_contributions": d["with_margins"]["ok"]},
    )
    has_portfolio = ev["portfolio_clients"].notna() & (ev["revenue"] > 0)
    portfolio = fmt.nest(
        {
            "median": fmt.json_objects(d["portfolio"]),
            "cost_shares": fmt.json_objects(d["shares"]),
            "median_cost_shares": fmt.json_objects(d["median_shares"]),
            "margin_contributions": fmt.json_objects(d["portfolio_contributions"]),
            "unexplained": d["unexplained"]["unexplained"].map(_number_json),
        }
    )
    return fmt.nest(
        {"trailing_3m": trailing, "portfolio": portfolio},
        {"trailing_3m": ev["history_months"] > 0, "portfolio": has_portfolio},
    )


def _number_json(value: float) -> str:
    return "null" if pd.isna(value) else repr(float(value))


def client_profitability(ev: pd.DataFrame) -> pd.DataFrame:
    """explanation and drivers for marts.client_profitability rows (evidence frame in)."""
    ev = ev.reset_index(drop=True)
    d = _profitability_drivers(ev)
    index = ev.index
    margin = fmt.percent(ev["gross_margin"])
    months = ev["history_months"]
    compared = baseline(months, fmt.percent(d["trailing"]["gross_margin"]))
    points = np.rint(ev["gross_margin"] * 100) - np.rint(d["trailing"]["gross_margin"] * 100)
    trend_head = pd.Series(
        np.where(
            points == 0,
            "Margin held at " + margin + " against " + compared,
            np.where(points > 0, "Margin rose to ", "Margin fell to ")
            + margin
            + " from "
            + compared,
        ),
        index=index,
    )
    phrases = {
        "revenue": change_phrase(
            "revenue",
            d["change"]["revenue"],
            d["change_pct"]["revenue"],
            fmt.signed_money(d["change"]["revenue"]),
            fmt.money(d["change"]["revenue"].abs()),
        ),
        "labor_cost": change_phrase(
            "labour cost",
            d["change"]["labor_cost"],
            d["change_pct"]["labor_cost"],
            hours_detail(d["change"]["labor_hours"]),
            fmt.money(d["change"]["labor_cost"].abs()),
        ),
        **{
            c: change_phrase(
                _NOUNS[c],
                d["change"][c],
                d["change_pct"][c],
                fmt.signed_money(d["change"][c]),
                fmt.money(d["change"][c].abs()),
            )
            for c in ("license_cost", "other_cost")
        },
    }
    matrix = np.column_stack([phrases[c].to_numpy(dtype=object) for c in _COMPONENTS])
    first, second = top_phrases(d["contributions"][list(_COMPONENTS)].to_numpy(float), matrix, 2)
    first.index = second.index = index
    revenue_named = (first == phrases["revenue"]) | (second == phrases["revenue"])
    revenue_steady = np.rint(d["change_pct"]["revenue"].abs() * 100) < STEADY * 100
    flat = pick(
        (first != "") & ~revenue_named & revenue_steady,
        " while revenue held steady (" + fmt.signed_percent(d["change_pct"]["revenue"]) + ")",
        index,
    )
    named = join_and(first, second) + flat
    trend = trend_head + pick(named != "", ": " + named, index)

    revenue, cost = ev["revenue"], ev["total_cost"]
    no_revenue = pd.Series(
        np.where(
            (revenue == 0) & (cost == 0),
            "No revenue or costs this month",
            np.where(
                revenue == 0,
                "No revenue this month against " + fmt.money(cost) + " of costs",
                "Revenue of "
                + fmt.money(revenue)
                + " (credits exceed invoices) against "
                + fmt.money(cost)
                + " of costs",
            ),
        ),
        index=index,
    )
    first_month = "Margin " + margin + " in the client's first month on record"
    no_baseline = (
        "Margin "
        + margin
        + " (no revenue in "
        + pd.Series(
            np.where(
                months == 1, "the previous month", "the previous " + fmt.integer(months) + " months"
            ),
            index=index,
        )
        + " to compare with)"
    )
    head = pd.Series(
        np.where(
            revenue <= 0,
            no_revenue,
            np.where(
                months == 0, first_month, np.where(d["with_margins"]["ok"], trend, no_baseline)
            ),
        ),
        index=index,
    )
    unknown = ev["labor_cost_unknown_hours"]
    head = head + pick(
        unknown > 0,
        "; "
        + fmt.decimal1(unknown)
        + " of "
        + fmt.decimal1(ev["labor_hours"])
        + " hours have no known staff cost",
        index,
    )
    sentence = head + "." + _portfolio_sentence(ev, d)
    return pd.DataFrame(
        {"explanation": sentence, "drivers": _profitability_drivers_json(ev, d)}, index=index
    )


def _portfolio_sentence(ev: pd.DataFrame, d: dict[str, pd.DataFrame]) -> pd.Series:
    """' Portfolio median margin 58% across 33 clients; labour takes 61% of revenue against a
    median of 27%.' (the largest cost-share gap of five points or more that pushes the margin
    the way it differs from the median, if any)."""
    index = ev.index
    gaps = d["portfolio_contributions"][list(_COSTS)].to_numpy(float)
    phrases = np.column_stack(
        [
            (
                "; "
                + _TAKES[c]
                + " "
                + fmt.percent(d["shares"][c])
                + " of revenue against a median of "
                + fmt.percent(d["median_shares"][c])
            ).to_numpy(dtype=object)
            for c in _COSTS
        ]
    )
    # The cost share that moves the margin furthest in the direction it differs from the median.
    direction = np.sign(ev["gross_margin"] - ev["median_gross_margin"]).fillna(0).to_numpy()
    aligned = np.nan_to_num(gaps * direction[:, None], nan=0.0)
    best = aligned.argmax(axis=1)
    rows = np.arange(len(index))
    gap_text = np.where(aligned[rows, best] >= MIN_PORTFOLIO_GAP, phrases[rows, best], "")
    gap_text = pd.Series(gap_text, index=index, dtype=object)
    show = ev["portfolio_clients"].notna() & (ev["revenue"] > 0)
    text = (
        " Portfolio median margin "
        + fmt.percent(ev["median_gross_margin"])
        + " across "
        + fmt.count(ev["portfolio_clients"], "client")
        + gap_text
        + "."
    )
    return pick(show, text, index)
