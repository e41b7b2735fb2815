"""Explanations of license_utilization and staff_utilization rows (see `explanations`).

Both marts revolve around one ratio (active / purchased seats, billable / available hours),
so the drivers are the two parts of that ratio against the trailing three-month average,
split exactly with the symmetric rule, plus the portfolio median of the month (same product
across clients; the whole team).
"""

from __future__ import annotations

from moatmetrics.trust.explanations import Stage, json_object
from moatmetrics.trust.templates import (
    baseline,
    change_phrase,
    choose,
    pick,
    ratio_contributions,
    text,
    top_phrases,
)


def _ratio_head(ratio: str, baseline_ratio: str) -> str:
    """', down from a 3-month average of 80%' (nothing without a baseline)."""
    points = f"(round_even({ratio} * 100, 0) - round_even({baseline_ratio} * 100, 0))"
    word = choose(
        f"{points} = 0",
        "', level with '",
        choose(f"{points} > 0", "', up from '", "', down from '"),
    )
    return pick(
        f"{baseline_ratio} IS NOT NULL AND {ratio} IS NOT NULL",
        f"{word} || {baseline('history_months', f'mm_percent({baseline_ratio})')}",
    )


def _split(part: str, whole: str) -> Stage:
    """The ratio part / whole against its trailing average, split into its two parts."""
    by_part, by_whole = ratio_contributions(part, f"avg_{part}", whole, f"avg_{whole}")
    has_history = f"coalesce(history_months > 0 AND avg_{whole} > 0 AND {whole} > 0, false)"
    return {
        "_has_history": has_history,
        "_baseline": (
            f"CASE WHEN {has_history} THEN avg_{part}"
            f" / CASE WHEN avg_{whole} > 0 THEN avg_{whole} END END"
        ),
        f"_co_{part}": f"CASE WHEN {has_history} THEN mm_round({by_part}, 4) END",
        f"_co_{whole}": f"CASE WHEN {has_history} THEN mm_round({by_whole}, 4) END",
    }


# ------------------------------------------------------------------------ license utilization

#: What each fact of a license row assembled from vendor facts needs, named when it is
#: missing (the row's missing_facts column).
MISSING_FACT_PHRASES = {
    "purchased": "no purchase (purchased) fact: Partner Center reconciliation file not uploaded",
    "assigned": "no assignment (assigned) fact: M365 users export not uploaded",
    "active": "no usage (active) fact: M365 active users report not uploaded",
    "billed": "no billing (billed) fact: PSA agreement additions not uploaded",
}


def _missing_facts(columns: set[str]) -> str:
    """'; no usage (active) fact: M365 active users report not uploaded' per missing fact of
    an assembled row; empty for canonical rows (their explanation is unchanged)."""
    if "missing_facts" not in columns:
        return "''"
    phrases = (
        "MAP {"
        + ", ".join(
            f"{text(name)}: {text('; ' + phrase)}" for name, phrase in MISSING_FACT_PHRASES.items()
        )
        + "}"
    )
    listed = (
        "array_to_string(list_transform(list_filter(string_split(coalesce(missing_facts, ''),"
        f" ','), lambda name: name <> ''), lambda name: {phrases}[name]), '')"
    )
    return pick("license_source = 'license_facts'", listed)


def license_utilization(columns: set[str]) -> list[Stage]:
    """'12 of 20 seats active (60%), down from a 3-month average of 80%: active seats fell by
    4.0; $96 a month on 8 unused seats. Median utilization of this product across 14
    clients: 75%.'"""
    numbers = {
        **_split("seats_active", "seats_purchased"),
        "_ch_seats_active": "mm_round(seats_active - avg_seats_active, 2)",
        "_ch_seats_purchased": "mm_round(seats_purchased - avg_seats_purchased, 2)",
    }
    phrases = {
        f"_ph_{column}": (
            f"'{noun}' || "
            + choose(f"_ch_{column} > 0", "' rose by '", "' fell by '")
            + f" || mm_decimal1(abs(_ch_{column}))"
        )
        for noun, column in (
            ("active seats", "seats_active"),
            ("purchased seats", "seats_purchased"),
        )
    }
    (driver,) = top_phrases(
        ["_co_seats_active", "_co_seats_purchased"],
        ["_ph_seats_active", "_ph_seats_purchased"],
        1,
    )
    seats = "mm_integer(seats_active) || ' of ' || mm_integer(seats_purchased) || ' seats active'"
    unknown_seats = (
        "'Seats purchased ' || "
        + choose("seats_purchased IS NULL", "'unknown'", "mm_integer(seats_purchased)")
        + " || '; active seats ' || "
        + choose("seats_active IS NULL", "'unknown'", "mm_integer(seats_active)")
    )
    head = choose(
        "seats_purchased IS NULL OR seats_active IS NULL",
        unknown_seats,
        choose(
            "seats_purchased > 0",
            f"{seats} || ' (' || mm_percent(utilization_rate) || ')'",
            "'No seats purchased; ' || mm_integer(seats_active) || ' active'",
        ),
    )
    leakage = pick(
        "monthly_leakage IS NOT NULL", "' (' || mm_money(monthly_leakage) || ' a month)'"
    )
    sentence = " || ".join(
        [
            head,
            _ratio_head("utilization_rate", "_t_utilization_rate"),
            pick("_has_history AND _driver <> ''", "': ' || _driver"),
            pick(
                "unused_seats > 0",
                "'; ' || mm_money(monthly_waste) || ' a month on ' || mm_integer(unused_seats)"
                " || ' unused seats'",
            ),
            pick(
                "unbilled_seats > 0",
                f"'; ' || mm_integer(unbilled_seats) || ' assigned seats not billed' || {leakage}",
            ),
            pick("seats_billed IS NULL", "'; billed seats unknown, so leakage cannot be checked'"),
            _missing_facts(columns),
            "'.'",
            pick(
                "portfolio_clients >= 2",
                "' Median utilization of this product across ' || mm_integer(portfolio_clients)"
                " || ' clients: ' || mm_percent(median_utilization_rate) || '.'",
            ),
        ]
    )
    trailing = json_object(
        {
            "summary": json_object(
                {
                    "months": "CAST(history_months AS BIGINT)",
                    "seats_active": "mm_round(avg_seats_active, 2)",
                    "seats_purchased": "mm_round(avg_seats_purchased, 2)",
                    "utilization_rate": "_t_utilization_rate",
                }
            ),
            "change": json_object({c: f"_ch_{c}" for c in ("seats_active", "seats_purchased")}),
            "utilization_contributions": json_object(
                {c: f"_co_{c}" for c in ("seats_active", "seats_purchased")}
            ),
        }
    )
    portfolio = json_object(
        {
            "clients": "CAST(portfolio_clients AS BIGINT)",
            "utilization_rate": "mm_round(median_utilization_rate, 4)",
        }
    )
    drivers = json_object(
        {
            "trailing_3m": choose("history_months > 0", trailing, "NULL"),
            "portfolio": choose("portfolio_clients IS NOT NULL", portfolio, "NULL"),
        }
    )
    return [
        numbers,
        {**phrases, "_t_utilization_rate": "mm_round(_baseline, 4)"},
        {"_driver": driver},
        {"explanation": sentence, "drivers": f"CAST({drivers} AS VARCHAR)"},
    ]


# -------------------------------------------------------------------------- staff utilization

_HOURS = ("logged_hours", "billable_hours", "available_hours")


def staff_utilization(columns: set[str]) -> list[Stage]:
    """'Utilization 62% against a target of 75%, down from a 3-month average of 70%: billable
    hours fell 12% (-18.0 h); 4.0 hours of overtime. Team median utilization 74% across 14
    staff.'"""
    numbers = {
        **_split("billable_hours", "available_hours"),
        **{f"_ch_{c}": f"mm_round({c} - avg_{c}, 2)" for c in _HOURS},
    }
    ratios = {
        **{
            f"_pct_{c}": f"mm_round(_ch_{c} / CASE WHEN avg_{c} > 0 THEN avg_{c} END, 4)"
            for c in ("billable_hours", "available_hours")
        },
        "_t_utilization": "mm_round(_baseline, 4)",
    }
    phrases = {
        f"_ph_{column}": change_phrase(
            noun,
            f"_ch_{column}",
            f"_pct_{column}",
            f"mm_signed_decimal1(_ch_{column}) || ' h'",
            f"mm_decimal1(abs(_ch_{column})) || ' h'",
        )
        for noun, column in (
            ("billable hours", "billable_hours"),
            ("available hours", "available_hours"),
        )
    }
    (driver,) = top_phrases(
        ["_co_billable_hours", "_co_available_hours"],
        ["_ph_billable_hours", "_ph_available_hours"],
        1,
    )
    unknown = (
        "'Contract unknown (not in the staff file): ' || mm_decimal1(logged_hours)"
        " || ' hours logged, ' || mm_decimal1(billable_hours)"
        " || ' billable; utilization cannot be computed'"
    )
    none_available = (
        "'No available hours this month: all ' || mm_decimal1(logged_hours)"
        " || ' logged hours count as overtime'"
    )
    utilization = " || ".join(
        [
            "'Utilization ' || mm_percent(utilization)",
            pick(
                "billable_target IS NOT NULL",
                "' against a target of ' || mm_percent(billable_target)",
            ),
            _ratio_head("utilization", "_t_utilization"),
            pick("_has_history AND _driver <> ''", "': ' || _driver"),
            pick(
                "overtime_hours > 0", "'; ' || mm_decimal1(overtime_hours) || ' hours of overtime'"
            ),
        ]
    )
    head = choose(
        "available_hours IS NULL",
        unknown,
        choose("available_hours = 0", none_available, utilization),
    )
    portfolio = pick(
        "portfolio_staff IS NOT NULL AND available_hours IS NOT NULL",
        "' Team median utilization ' || mm_percent(median_utilization) || ' across '"
        " || mm_integer(portfolio_staff) || ' staff.'",
    )
    trailing = json_object(
        {
            "summary": json_object(
                {
                    "months": "CAST(history_months AS BIGINT)",
                    "logged_hours": "mm_round(avg_logged_hours, 2)",
                    "billable_hours": "mm_round(avg_billable_hours, 2)",
                    "available_hours": "mm_round(avg_available_hours, 2)",
                    "utilization": "_t_utilization",
                }
            ),
            "change": json_object({c: f"_ch_{c}" for c in _HOURS}),
            "change_pct": json_object(
                {c: f"_pct_{c}" for c in ("billable_hours", "available_hours")}
            ),
            "utilization_contributions": json_object(
                {c: f"_co_{c}" for c in ("billable_hours", "available_hours")}
            ),
        }
    )
    drivers = json_object(
        {
            "trailing_3m": choose("history_months > 0", trailing, "NULL"),
            "portfolio": choose(
                "portfolio_staff IS NOT NULL",
                json_object(
                    {
                        "staff": "CAST(portfolio_staff AS BIGINT)",
                        "utilization": "mm_round(median_utilization, 4)",
                    }
                ),
                "NULL",
            ),
            "billable_target": "mm_round(billable_target, 4)",
        }
    )
    return [
        numbers,
        {**ratios},
        phrases,
        {"_driver": driver},
        {"explanation": f"{head} || '.' || {portfolio}", "drivers": f"CAST({drivers} AS VARCHAR)"},
    ]
