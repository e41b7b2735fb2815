"""Column-wise sentence building shared by the explanations of all marts.

Each helper takes and returns pandas Series aligned on the rows, so a template is a handful
of vectorised string concatenations rather than a loop over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moatmetrics.trust import formatting as fmt

#: A driver is named when it moved the ratio by at least this much (one percentage point).
MIN_CONTRIBUTION = 0.01
#: A relative change below this (rounded) is "held steady".
STEADY = 0.05


def pick(condition: pd.Series | np.ndarray, text: pd.Series | str, index: pd.Index) -> pd.Series:
    """`text` where `condition` holds (unknown counts as false), else an empty string."""
    mask = pd.Series(condition, index=index).astype("boolean").fillna(False).to_numpy(bool)
    return pd.Series(np.where(mask, text, ""), index=index, dtype=object)


def baseline(months: pd.Series, fraction_text: pd.Series) -> pd.Series:
    """'a 3-month average of 41%' or "the previous month's 41%"."""
    k = fmt.integer(months)
    return pd.Series(
        np.where(
            months == 1,
            "the previous month's " + fraction_text,
            "a " + k + "-month average of " + fraction_text,
        ),
        index=months.index,
    )


def change_phrase(
    noun: str, delta: pd.Series, change_pct: pd.Series, detail: pd.Series, by: pd.Series
) -> pd.Series:
    """'labour cost rose 95% (+22.0 h)', 'revenue held steady (+2%)', 'other costs rose by $80'."""
    verb = pd.Series(np.where(delta > 0, " rose ", " fell "), index=delta.index)
    steady = np.rint(change_pct.abs() * 100) < STEADY * 100
    moved = noun + verb + fmt.abs_percent(change_pct) + " (" + detail + ")"
    held = noun + " held steady (" + fmt.signed_percent(change_pct) + ")"
    without_pct = noun + verb + "by " + by
    return pd.Series(
        np.where(change_pct.isna(), without_pct, np.where(steady, held, moved)), index=delta.index
    )


def hours_detail(change: pd.Series) -> pd.Series:
    """'+22.0 h', or 'same hours' when the cost moved without the hours (rates, unknown cost)."""
    same = change.round(1) == 0
    return pd.Series(
        np.where(same, "same hours", fmt.signed_decimal1(change) + " h"), index=change.index
    )


def top_phrases(contributions: np.ndarray, phrases: np.ndarray, limit: int) -> list[pd.Series]:
    """Per row, the phrases of the `limit` largest |contributions| of at least one point."""
    strength = np.nan_to_num(np.abs(contributions), nan=0.0)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :limit]
    chosen = np.take_along_axis(phrases, order, axis=1)
    size = np.take_along_axis(strength, order, axis=1)
    return [
        pd.Series(np.where(size[:, i] >= MIN_CONTRIBUTION, chosen[:, i], "")) for i in range(limit)
    ]


def ratio_contributions(
    a: pd.Series, a0: pd.Series, b: pd.Series, b0: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Exact symmetric split of a/b - a0/b0 into the parts of a and of b."""
    inverse, inverse0 = 1.0 / b.where(b != 0), 1.0 / b0.where(b0 != 0)
    return (a - a0) * (inverse + inverse0) / 2.0, (a + a0) / 2.0 * (inverse - inverse0)


def join_and(first: pd.Series, second: pd.Series) -> pd.Series:
    return first + pd.Series(np.where(second != "", " and " + second, ""), index=first.index)


def with_corrections(explained: pd.DataFrame, ev: pd.DataFrame) -> pd.DataFrame:
    """The explanation of a row that rests on corrected input rows says so: " 2 rows corrected
    by an analyst." (the mart's `overridden_rows`, docs/trust.md#corrections). Rows without
    corrections, and marts published before the column existed, keep their sentence as is."""
    if "overridden_rows" not in ev.columns:
        return explained
    index = explained.index
    count = pd.Series(ev["overridden_rows"].to_numpy(), index=index).fillna(0).astype(int)
    note = pd.Series(
        np.where(count == 1, " 1 row", " " + count.astype(str) + " rows"), index=index
    ) + pd.Series(" corrected by an analyst.", index=index)
    return explained.assign(explanation=explained["explanation"] + pick(count > 0, note, index))
