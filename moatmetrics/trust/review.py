"""The review queue side of the trust layer: flagged rows in, review status out.

Rows whose confidence is below the threshold become review items through the app database's
`moatmetrics.appdb.reviews.sync_review_items`, keyed by mart and row key. The hashed content
is the row's mart values plus its confidence and factors: all of them depend only on the
row's own entity, so a reviewer's decision sticks while those numbers are unchanged, and a
later run that changes them re-opens the item; explanations and drivers (which compare with
the portfolio) are stored on the item but not hashed. So are the item's reason kind, money at
stake and subject name (`moatmetrics.trust.review_reasons`), which the queue filters and sorts
by. The status the sync leaves (flagged rows only; the others are `tables.NOT_REQUIRED`) is written
into the trust tables, so publishing needs only the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from moatmetrics.appdb.reviews import SyncSummary, items_to_keep, sync_review_items
from moatmetrics.canonical import canonical_json
from moatmetrics.marts import GRAINS
from moatmetrics.settings import Settings, get_settings
from moatmetrics.trust import review_reasons
from moatmetrics.trust.tables import FACTOR_COLUMNS


def row_keys(mart: str, rows: pd.DataFrame) -> list[str]:
    """A row's key: its grain values as a canonical JSON list (unambiguous, any characters)."""
    columns = [rows[c].tolist() for c in GRAINS[mart]]
    return [canonical_json([_plain(v) for v in values]) for values in zip(*columns, strict=True)]


def _plain(value: Any) -> Any:
    """JSON-ready and stable: dates as ISO text, floats rounded, NaN/NA as null."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    return value


def review_entries(
    mart: str,
    flagged: pd.DataFrame,
    mart_columns: Iterable[str],
    threshold: float,
    client_names: Mapping[str, str] | None = None,
    keys: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One sync entry per flagged row (a loop over flagged rows only; they are few).

    `client_names` names the clients of marts whose rows carry only the client_id (licenses);
    `keys`, the rows' `row_keys` when the caller has them already.
    """
    names = client_names or {}
    hashed = [*mart_columns, "confidence", *FACTOR_COLUMNS]
    keys = row_keys(mart, flagged) if keys is None else keys
    records = flagged[hashed].to_dict("records")
    explanations = flagged["explanation"].tolist()
    entries = []
    for key, record, explanation in zip(keys, records, explanations, strict=True):
        row = {name: _plain(value) for name, value in record.items()}
        if not row.get("overridden_rows"):
            # Rows without corrections hash as they did before the column existed, so an
            # upgrade does not reopen decided items; a correction changes the hash.
            row.pop("overridden_rows", None)
        factors = {name: row[name] for name in FACTOR_COLUMNS}
        entries.append(
            {
                "row_key": key,
                "row": row,
                "confidence": row["confidence"],
                "factors": factors,
                "explanation": explanation,
                "client_id": row.get("client_id"),
                "reason_kind": review_reasons.reason_kind(factors, threshold),
                "money_at_stake": review_reasons.money_at_stake(mart, row),
                "subject": _subject(row, names),
            }
        )
    return entries


def _subject(row: Mapping[str, Any], client_names: Mapping[str, str]) -> str | None:
    """Whom an item is about: the row's client or staff name, else its client's name."""
    subject = row.get("client_name") or row.get("staff_name")
    return subject or client_names.get(str(row.get("client_id")))


def sync(
    settings: Settings | None,
    mart: str,
    flagged: pd.DataFrame,
    mart_columns: Iterable[str],
    client_names: Mapping[str, str] | None = None,
    kept: Sequence[bool] | None = None,
) -> tuple[list[str], SyncSummary]:
    """Sync the flagged rows into the queue; return their review status, in row order.

    `kept` marks the rows whose trust values were kept from the last run (their inputs did
    not change, `moatmetrics.trust.scoring`): their entries would be what their items hold,
    so an item that still holds it (not resolved, the same subject: a licence's client may
    have been renamed) is only touched, not built and written again. A day's upload at 10m
    leaves some 60,000 flagged rows as they were; building their entries took most of the
    trust layer's time.
    """
    threshold = (settings or get_settings()).review_threshold
    names = client_names or {}
    keys = row_keys(mart, flagged)
    unchanged: set[str] = set()
    if kept is not None and any(kept):
        columns = [c for c in ("client_name", "staff_name", "client_id") if c in flagged]
        records = flagged[columns].to_dict("records")
        subjects = {
            key: _subject({name: _plain(value) for name, value in record.items()}, names)
            for key, record, is_kept in zip(keys, records, kept, strict=True)
            if is_kept
        }
        unchanged = items_to_keep(mart, subjects, settings)
    # a boolean mask, not a list: an empty list would select no columns of an empty frame
    todo = np.array([key not in unchanged for key in keys], dtype=bool)
    entries = review_entries(
        mart,
        flagged[todo],
        list(mart_columns),
        threshold,
        names,
        [key for key, wanted in zip(keys, todo, strict=True) if wanted],
    )
    summary = sync_review_items(mart, entries, settings, unchanged=unchanged)
    return [summary.statuses[key] for key in keys], summary
