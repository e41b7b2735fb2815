"""Identity items of the review queue: one per held client key (docs/sources.md).

A held key is a question only a person can answer ("which of our clients is the Xero contact
`Acme Dental Pty`?"), so it goes to the same queue as the doubtful numbers, with the rows
waiting on it and the client whose name is closest. Confirming it writes a `client_aliases`
row as an upload (`api.upload_intake`), versioned and audited like every mapping file; the
next run resolves the key and the item resolves itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moatmetrics.trust.review_reasons import CLIENT_IDENTITY

_FACT_WORDS = (
    ("time_entry_rows", "time entries"),
    ("invoice_line_rows", "invoice lines"),
    ("expense_rows", "expenses"),
    ("license_fact_rows", "licence facts"),
)


def row_key(client_source: str | None, client_key: str) -> str:
    return f"{client_source or ''}|{client_key}"[:255]


def explanation(held: Mapping[str, Any]) -> str:
    parts = [f"{held[col]} {words}" for col, words in _FACT_WORDS if held.get(col)]
    source = held["client_source"] or "a vendor file"
    text = (
        f"{held['held_rows']} rows ({', '.join(parts)}) from {source} name the client"
        f" '{held['client_key']}', which no alias and no client name matches."
    )
    if held.get("suggested_client_id"):
        text += (
            f" Closest client: {held['suggested_client_name']} ({held['suggested_client_id']}),"
            f" name similarity {float(held['similarity']) * 100:.0f} %."
        )
    else:
        text += " No client's name is close: choose the client, or `-` for your own company."
    return text


def review_entries(held_keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queue entries (`moatmetrics.appdb.reviews.sync_review_items`) of the held keys."""
    return [
        {
            "row_key": row_key(held["client_source"], held["client_key"]),
            "row": dict(held),
            "explanation": explanation(held),
            "reason_kind": CLIENT_IDENTITY,
            "subject": held["client_key"],
            # a held key is nobody's client yet: client-scoped keys do not see it
            "client_id": None,
        }
        for held in held_keys
    ]
