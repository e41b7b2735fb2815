"""Explanations: a short sentence and machine-readable drivers for every mart row, in SQL.

Drivers compare the row with the entity's trailing three-month average and with the
portfolio median of the month. A ratio's change is split exactly between its parts with the
symmetric (two-player Shapley) rule: for ``y = a / b`` against a baseline ``a0 / b0``,
``a`` contributes ``(a - a0) * (1/b + 1/b0) / 2`` and ``b`` contributes
``(a + a0) / 2 * (1/b - 1/b0)``; the two add up to ``y - y0``. For the margin,
``1 - cost / revenue``, each cost plays the part of ``a`` with a minus sign.

Sentences are templates filled only with values stored in the row (its columns or its
``drivers``), rendered by the ``mm_*`` macros of `moatmetrics.trust.formatting`; a driver is
named only when it moved the ratio by at least one percentage point. Each explainer returns
*stages*: lists of named SQL expressions over the evidence relation, each stage reading the
columns of the ones before (`moatmetrics.trust.scoring` chains them as CTEs), the last one
holding ``explanation`` and ``drivers``. DuckDB evaluates them over whole columns.
"""

from __future__ import annotations

from moatmetrics.trust.templates import (
    baseline,
    change_phrase,
    choose,
    hours_detail,
    join_and,
    pick,
    ratio_contributions,
    steady,
    text,
    top_phrases,
)

#: Named SQL expressions; a list of them is one stage of an explanation.
Stage = dict[str, str]

#: A portfolio gap in a cost share is named from this size on (five percentage points).
MIN_PORTFOLIO_GAP = 0.05

_COSTS = ("labor_cost", "license_cost", "other_cost")
_COMPONENTS = ("revenue", *_COSTS)
_MEASURES = (*_COMPONENTS, "labor_hours")
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


def json_object(pairs: dict[str, str]) -> str:
    """A JSON object (keys in order) of SQL values; NULL becomes null."""
    return "json_object(" + ", ".join(f"{text(k)}, {v}" for k, v in pairs.items()) + ")"


def _share(cost: str) -> str:
    return f"median_{cost.split('_')[0]}_share"


def _numbers() -> list[Stage]:
    """Trailing and portfolio comparisons; margin = 1 - cost / revenue, split per component."""
    positive = {
        "_rev": "CASE WHEN revenue > 0 THEN revenue END",
        "_avg_rev": "CASE WHEN avg_revenue > 0 THEN avg_revenue END",
        "_avg_cost": "avg_labor_cost + avg_license_cost + avg_other_cost",
    }
    by_revenue = ratio_contributions("total_cost", "_avg_cost", "_rev", "_avg_rev")[1]
    derived = {
        "_with_margins": (
            "_rev IS NOT NULL AND _avg_rev IS NOT NULL AND coalesce(history_months > 0, false)"
        ),
        "_avg_margin": "(_avg_rev - _avg_cost) / _avg_rev",
        # Each cost lowers the margin by its own change; revenue by the change of 1 / revenue.
        "_by_revenue": f"-{by_revenue}",
        **{
            f"_by_{c}": "-" + ratio_contributions(c, f"avg_{c}", "_rev", "_avg_rev")[0]
            for c in _COSTS
        },
        **{f"_delta_{c}": f"{c} - avg_{c}" for c in _MEASURES},
        **{f"_gap_{c}": f"{_share(c)} - {c} / _rev" for c in _COSTS},
    }
    rounded = {
        **{f"_t_{c}": f"mm_round(avg_{c}, 2)" for c in _MEASURES},
        "_t_margin": "mm_round(_avg_margin, 4)",
        **{f"_ch_{c}": f"mm_round(_delta_{c}, 2)" for c in _MEASURES},
        **{
            f"_pct_{c}": (
                f"mm_round(_delta_{c} / CASE WHEN abs(avg_{c}) > 0 THEN abs(avg_{c}) END, 4)"
            )
            for c in _MEASURES
        },
        **{
            f"_co_{c}": f"CASE WHEN _with_margins THEN mm_round(_by_{c}, 4) END"
            for c in _COMPONENTS
        },
        **{f"_sh_{c}": f"mm_round({c} / _rev, 4)" for c in _COSTS},
        **{f"_msh_{c}": f"mm_round({_share(c)}, 4)" for c in _COSTS},
        **{f"_pg_{c}": f"mm_round(_gap_{c}, 4)" for c in _COSTS},
        "_unexplained": (
            "mm_round((gross_margin - median_gross_margin) - ("
            + " + ".join(f"coalesce(_gap_{c}, 0.0)" for c in _COSTS)
            + "), 4)"
        ),
    }
    return [positive, derived, rounded]


def _drivers() -> str:
    trailing = json_object(
        {
            "summary": json_object(
                {
                    "months": "CAST(history_months AS BIGINT)",
                    **{c: f"_t_{c}" for c in _MEASURES},
                    "gross_margin": "_t_margin",
                }
            ),
            "change": json_object({c: f"_ch_{c}" for c in _MEASURES}),
            "change_pct": json_object({c: f"_pct_{c}" for c in _MEASURES}),
            "margin_contributions": choose(
                "_with_margins", json_object({c: f"_co_{c}" for c in _COMPONENTS}), "NULL"
            ),
        }
    )
    portfolio = json_object(
        {
            "median": json_object(
                {
                    "clients": "CAST(portfolio_clients AS BIGINT)",
                    "gross_margin": "mm_round(median_gross_margin, 4)",
                    "effective_hourly_rate": "mm_round(median_effective_hourly_rate, 2)",
                }
            ),
            "cost_shares": json_object({c: f"_sh_{c}" for c in _COSTS}),
            "median_cost_shares": json_object({c: f"_msh_{c}" for c in _COSTS}),
            "margin_contributions": json_object({c: f"_pg_{c}" for c in _COSTS}),
            "unexplained": "_unexplained",
        }
    )
    return (
        "CAST("
        + json_object(
            {
                "trailing_3m": choose("history_months > 0", trailing, "NULL"),
                "portfolio": choose(
                    "portfolio_clients IS NOT NULL AND revenue > 0", portfolio, "NULL"
                ),
            }
        )
        + " AS VARCHAR)"
    )


def _phrases() -> Stage:
    phrases = {
        "_ph_revenue": change_phrase(
            "revenue",
            "_ch_revenue",
            "_pct_revenue",
            "mm_signed_money(_ch_revenue)",
            "mm_money(abs(_ch_revenue))",
        ),
        "_ph_labor_cost": change_phrase(
            "labour cost",
            "_ch_labor_cost",
            "_pct_labor_cost",
            hours_detail("_ch_labor_hours"),
            "mm_money(abs(_ch_labor_cost))",
        ),
        **{
            f"_ph_{c}": change_phrase(
                _NOUNS[c],
                f"_ch_{c}",
                f"_pct_{c}",
                f"mm_signed_money(_ch_{c})",
                f"mm_money(abs(_ch_{c}))",
            )
            for c in ("license_cost", "other_cost")
        },
        # The cost share that moves the margin furthest in the direction it differs from the
        # median, if any (a gap of MIN_PORTFOLIO_GAP or more).
        **{
            f"_aligned_{c}": (
                f"coalesce(_pg_{c} * coalesce(sign(gross_margin - median_gross_margin), 0), 0.0)"
            )
            for c in _COSTS
        },
        **{
            f"_takes_{c}": (
                f"'; {_TAKES[c]} ' || mm_percent(_sh_{c}) || ' of revenue against a median of '"
                f" || mm_percent(_msh_{c})"
            )
            for c in _COSTS
        },
    }
    return phrases


def _sentence() -> list[Stage]:
    first, second = top_phrases(
        [f"_co_{c}" for c in _COMPONENTS], [f"_ph_{c}" for c in _COMPONENTS], 2
    )
    labor, license_, other = (f"_aligned_{c}" for c in _COSTS)
    best = choose(
        f"{labor} >= greatest({license_}, {other})",
        choose(f"{labor} >= {MIN_PORTFOLIO_GAP!r}", "_takes_labor_cost", "''"),
        choose(
            f"{license_} >= {other}",
            choose(f"{license_} >= {MIN_PORTFOLIO_GAP!r}", "_takes_license_cost", "''"),
            choose(f"{other} >= {MIN_PORTFOLIO_GAP!r}", "_takes_other_cost", "''"),
        ),
    )
    named = {
        "_first": first,
        "_second": second,
        "_margin_text": "mm_percent(gross_margin)",
        "_points": "round_even(gross_margin * 100, 0) - round_even(_t_margin * 100, 0)",
        "_gap_text": best,
    }
    compared = baseline("history_months", "mm_percent(_t_margin)")
    revenue_named = "(_first = _ph_revenue OR _second = _ph_revenue)"
    flat = pick(
        f"_first <> '' AND NOT {revenue_named} AND {steady('_pct_revenue')}",
        "' while revenue held steady (' || mm_signed_percent(_pct_revenue) || ')'",
    )
    trend_head = choose(
        "_points = 0",
        f"'Margin held at ' || _margin_text || ' against ' || {compared}",
        choose("_points > 0", "'Margin rose to '", "'Margin fell to '")
        + f" || _margin_text || ' from ' || {compared}",
    )
    parts = {
        "_named": f"{join_and('_first', '_second')} || {flat}",
        "_trend_head": trend_head,
    }
    no_revenue = choose(
        "revenue = 0 AND total_cost = 0",
        "'No revenue or costs this month'",
        choose(
            "revenue = 0",
            "'No revenue this month against ' || mm_money(total_cost) || ' of costs'",
            "'Revenue of ' || mm_money(revenue) || ' (credits exceed invoices) against '"
            " || mm_money(total_cost) || ' of costs'",
        ),
    )
    first_month = (
        text("Margin ") + " || _margin_text || " + text(" in the client's first month on record")
    )
    no_baseline = (
        "'Margin ' || _margin_text || ' (no revenue in ' || "
        + choose(
            "history_months = 1",
            "'the previous month'",
            "'the previous ' || mm_integer(history_months) || ' months'",
        )
        + " || ' to compare with)'"
    )
    trend = "_trend_head || " + pick("_named <> ''", "': ' || _named")
    head = choose(
        "revenue <= 0",
        no_revenue,
        choose("history_months = 0", first_month, choose("_with_margins", trend, no_baseline)),
    )
    unknown = pick(
        "labor_cost_unknown_hours > 0",
        "'; ' || mm_decimal1(labor_cost_unknown_hours) || ' of ' || mm_decimal1(labor_hours)"
        " || ' hours have no known staff cost'",
    )
    portfolio = pick(
        "portfolio_clients IS NOT NULL AND revenue > 0",
        "' Portfolio median margin ' || mm_percent(median_gross_margin) || ' across '"
        " || mm_count(portfolio_clients, 'client') || _gap_text || '.'",
    )
    final = {
        "explanation": f"{head} || {unknown} || '.' || {portfolio}",
        "drivers": _drivers(),
    }
    return [named, parts, final]


def client_profitability(columns: set[str]) -> list[Stage]:
    """Stages ending in explanation and drivers for marts.client_profitability rows."""
    return [*_numbers(), _phrases(), *_sentence()]
