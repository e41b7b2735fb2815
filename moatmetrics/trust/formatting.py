"""How numbers appear in explanation sentences, column-wise (pandas in, strings out).

Every sentence number is one of a row's stored values rendered by one of these functions,
so a reader (and `tests/trust`) can trace each number back to the row: fractions as whole
percents, money as whole dollars with thousands separators, hours and seats with one decimal.
Missing values render as an empty string; the templates never show them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import duckdb


def _text(values: pd.Series, render: str) -> pd.Series:
    out = pd.Series("", index=values.index, dtype=object)
    known = values.notna()
    out[known] = values[known].astype(float).map(render.format)
    return out


def _sign(values: pd.Series, rounded: pd.Series) -> pd.Series:
    return pd.Series(np.where(rounded > 0, "+", np.where(rounded < 0, "-", "")), index=values.index)


def _blank_missing(values: pd.Series, text: pd.Series) -> pd.Series:
    return text.where(values.notna(), "")


def percent(fraction: pd.Series) -> pd.Series:
    """0.4162 -> '42%'."""
    return _blank_missing(fraction, _text(np.rint(fraction * 100) + 0.0, "{:.0f}") + "%")


def abs_percent(fraction: pd.Series) -> pd.Series:
    """-0.4162 -> '42%'."""
    return percent(fraction.abs())


def signed_percent(fraction: pd.Series) -> pd.Series:
    """0.4162 -> '+42%', -0.004 -> '0%'."""
    rounded = np.rint(fraction * 100) + 0.0
    return _blank_missing(fraction, _sign(fraction, rounded) + _text(rounded.abs(), "{:.0f}") + "%")


def money(amount: pd.Series) -> pd.Series:
    """1234.5 -> '$1,234'; -80 -> '-$80'."""
    rounded = np.rint(amount) + 0.0
    sign = pd.Series(np.where(rounded < 0, "-", ""), index=amount.index)
    return _blank_missing(amount, sign + "$" + _text(rounded.abs(), "{:,.0f}"))


def signed_money(amount: pd.Series) -> pd.Series:
    """1234.5 -> '+$1,234'; -80 -> '-$80'."""
    rounded = np.rint(amount) + 0.0
    return _blank_missing(amount, _sign(amount, rounded) + "$" + _text(rounded.abs(), "{:,.0f}"))


def decimal1(value: pd.Series) -> pd.Series:
    """Hours and average seats: 22.04 -> '22.0'."""
    return _text(value.abs().round(1) * np.sign(value) + 0.0, "{:,.1f}")


def signed_decimal1(value: pd.Series) -> pd.Series:
    """22.04 -> '+22.0', -3 -> '-3.0'."""
    rounded = value.round(1) + 0.0
    return _sign(value, rounded) + _text(rounded.abs(), "{:,.1f}")


def integer(value: pd.Series) -> pd.Series:
    """Counts: 12.0 -> '12'."""
    return _text(np.rint(value) + 0.0, "{:,.0f}")


def signed_points(fraction_difference: pd.Series) -> pd.Series:
    """A change of a ratio in percentage points: -0.153 -> '-15 pts'."""
    return _blank_missing(
        fraction_difference, signed_percent(fraction_difference).str.replace("%", " pts")
    )


def count(value: pd.Series, noun: str) -> pd.Series:
    """'1 client', '33 clients'."""
    plural = pd.Series(np.where(value == 1, " " + noun, " " + noun + "s"), index=value.index)
    return _blank_missing(value, integer(value) + plural)


# -------------------------------------------------------------------------- machine-readable


def json_objects(frame: pd.DataFrame) -> pd.Series:
    """One JSON object per row (keys in column order, NaN as null), built by pandas in C."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    text = frame.to_json(orient="records", lines=True, double_precision=10)
    return pd.Series(text.splitlines(), index=frame.index, dtype=object)


def nest(parts: dict[str, pd.Series], present: dict[str, pd.Series] | None = None) -> pd.Series:
    """Combine per-row JSON texts into one object per row; absent parts become null."""
    present = present or {}
    index = next(iter(parts.values())).index
    out = pd.Series("{", index=index, dtype=object)
    for number, (key, part) in enumerate(parts.items()):
        value = part.where(present[key], "null") if key in present else part
        out = out + ("," if number else "") + json.dumps(key) + ":" + value
    return out + "}"


# ------------------------------------------------------------------------- the same in DuckDB

#: The renderers above as DuckDB macros, for the mart explanations, which are built in SQL over
#: whole columns (`moatmetrics.trust.scoring`); the churn sentences (one per client) use the
#: pandas ones. Both give the same text for every value (tests/unit/trust/test_formatting.py):
#: numpy's ``rint`` and ``round`` are DuckDB's ``round_even`` of the value times a power of ten
#: (half to even, on the same double), ``+ 0.0`` turns a negative zero into zero as in pandas,
#: and a missing value renders as ''. ``mm_round(x, places)`` is pandas' ``Series.round`` (as JSON
#: writes it: no negative zero).
MACROS: dict[str, str] = {
    "mm_round": "(x, places) AS round_even(x * pow(10.0, places), 0) / pow(10.0, places) + 0.0",
    "mm_sign": "(rounded) AS CASE WHEN rounded > 0 THEN '+' WHEN rounded < 0 THEN '-' ELSE '' END",
    "mm_percent": (
        "(f) AS CASE WHEN f IS NULL THEN ''"
        " ELSE format('{:.0f}', round_even(f * 100, 0) + 0.0) || '%' END"
    ),
    "mm_abs_percent": "(f) AS mm_percent(abs(f))",
    "mm_signed_percent": (
        "(f) AS CASE WHEN f IS NULL THEN '' ELSE mm_sign(round_even(f * 100, 0))"
        " || format('{:.0f}', abs(round_even(f * 100, 0))) || '%' END"
    ),
    "mm_money": (
        "(a) AS CASE WHEN a IS NULL THEN '' ELSE"
        " (CASE WHEN round_even(a, 0) < 0 THEN '-' ELSE '' END)"
        " || '$' || format('{:,.0f}', abs(round_even(a, 0))) END"
    ),
    "mm_signed_money": (
        "(a) AS CASE WHEN a IS NULL THEN '' ELSE mm_sign(round_even(a, 0))"
        " || '$' || format('{:,.0f}', abs(round_even(a, 0))) END"
    ),
    "mm_decimal1": (
        "(v) AS CASE WHEN v IS NULL THEN ''"
        " ELSE format('{:,.1f}', mm_round(abs(v), 1) * sign(v) + 0.0) END"
    ),
    "mm_signed_decimal1": (
        "(v) AS CASE WHEN v IS NULL THEN '' ELSE mm_sign(mm_round(v, 1))"
        " || format('{:,.1f}', abs(mm_round(v, 1))) END"
    ),
    "mm_integer": (
        "(v) AS CASE WHEN v IS NULL THEN '' ELSE format('{:,.0f}', round_even(v, 0) + 0.0) END"
    ),
    "mm_signed_points": (
        "(d) AS CASE WHEN d IS NULL THEN '' ELSE replace(mm_signed_percent(d), '%', ' pts') END"
    ),
    "mm_count": (
        "(v, noun) AS CASE WHEN v IS NULL THEN '' ELSE mm_integer(v)"
        " || CASE WHEN v = 1 THEN ' ' || noun ELSE ' ' || noun || 's' END END"
    ),
}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the ``mm_*`` renderers on this connection (temporary: nothing is stored)."""
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")
