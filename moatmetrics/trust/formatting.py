"""How numbers appear in explanation sentences, column-wise (pandas in, strings out).

Every sentence number is one of a row's stored values rendered by one of these functions,
so a reader (and `tests/trust`) can trace each number back to the row: fractions as whole
percents, money as whole dollars with thousands separators, hours and seats with one decimal.
Missing values render as an empty string; the templates never show them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


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
