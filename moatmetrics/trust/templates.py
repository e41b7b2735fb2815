"""SQL building blocks shared by the explanations of all marts.

Each helper takes SQL expressions (text) and returns one: a template becomes a handful of
string concatenations DuckDB evaluates over whole columns, never a loop over rows. Text
expressions never yield NULL (a missing number renders as '', see the ``mm_*`` macros of
`moatmetrics.trust.formatting`), so ``||`` never swallows a sentence.
"""

from __future__ import annotations

#: A driver is named when it moved the ratio by at least this much (one percentage point).
MIN_CONTRIBUTION = 0.01
#: A relative change below this (rounded) is "held steady".
STEADY = 0.05


def text(value: str) -> str:
    """A Python string as an SQL literal."""
    return "'" + value.replace("'", "''") + "'"


def pick(condition: str, when: str) -> str:
    """`when` where `condition` holds (unknown counts as false), else an empty string."""
    return f"(CASE WHEN {condition} THEN {when} ELSE '' END)"


def choose(condition: str, when: str, otherwise: str) -> str:
    """`when` where `condition` holds, else `otherwise` (unknown counts as false)."""
    return f"(CASE WHEN {condition} THEN {when} ELSE {otherwise} END)"


def baseline(months: str, fraction_text: str) -> str:
    """'a 3-month average of 41%' or "the previous month's 41%"."""
    previous = text("the previous month's ")
    return choose(
        f"{months} = 1",
        f"{previous} || {fraction_text}",
        f"'a ' || mm_integer({months}) || '-month average of ' || {fraction_text}",
    )


def steady(change_pct: str) -> str:
    """The relative change rounds to less than STEADY (false when unknown)."""
    return f"coalesce(round_even(abs({change_pct}) * 100, 0) < {STEADY * 100!r}, false)"


def change_phrase(noun: str, delta: str, change_pct: str, detail: str, by: str) -> str:
    """'labour cost rose 95% (+22.0 h)', 'revenue held steady (+2%)', 'other costs rose by $80'."""
    verb = choose(f"{delta} > 0", "' rose '", "' fell '")
    moved = f"{text(noun)} || {verb} || mm_abs_percent({change_pct}) || ' (' || {detail} || ')'"
    held = f"{text(noun + ' held steady (')} || mm_signed_percent({change_pct}) || ')'"
    without_pct = f"{text(noun)} || {verb} || 'by ' || {by}"
    return choose(f"{change_pct} IS NULL", without_pct, choose(steady(change_pct), held, moved))


def hours_detail(change: str) -> str:
    """'+22.0 h', or 'same hours' when the cost moved without the hours (rates, unknown cost)."""
    return choose(
        f"mm_round({change}, 1) = 0", "'same hours'", f"mm_signed_decimal1({change}) || ' h'"
    )


def top_phrases(contributions: list[str], phrases: list[str], limit: int) -> list[str]:
    """Per row, the phrases of the `limit` largest |contributions| of at least one point;
    ties go to the earlier phrase, an unknown contribution counts as none."""
    ranked = (
        "list_sort(["
        + ", ".join(
            f"{{'strength': -coalesce(abs({c}), 0.0), 'position': {i}, 'phrase': {p}}}"
            for i, (c, p) in enumerate(zip(contributions, phrases, strict=True))
        )
        + "])"
    )
    return [
        pick(f"-{ranked}[{n}].strength >= {MIN_CONTRIBUTION!r}", f"{ranked}[{n}].phrase")
        for n in range(1, limit + 1)
    ]


def ratio_contributions(a: str, a0: str, b: str, b0: str) -> tuple[str, str]:
    """Exact symmetric split of a/b - a0/b0 into the parts of a and of b (NULL where b or b0
    is zero or unknown)."""
    inverse = f"(CASE WHEN {b} <> 0 THEN 1.0 / {b} END)"
    inverse0 = f"(CASE WHEN {b0} <> 0 THEN 1.0 / {b0} END)"
    return (
        f"(({a} - {a0}) * ({inverse} + {inverse0}) / 2.0)",
        f"(({a} + {a0}) / 2.0 * ({inverse} - {inverse0}))",
    )


def join_and(first: str, second: str) -> str:
    then = pick(f"{second} <> ''", f"' and ' || {second}")
    return f"{first} || {then}"


def corrections_note(count: str) -> str:
    """' 2 rows corrected by an analyst.' for a row that rests on corrected input rows (the
    mart's `overridden_rows`, docs/trust.md#corrections); '' for the others."""
    rows = choose(
        f"{count} = 1", "' 1 row'", f"' ' || CAST(CAST({count} AS BIGINT) AS VARCHAR) || ' rows'"
    )
    return pick(f"coalesce({count}, 0) > 0", f"{rows} || ' corrected by an analyst.'")
