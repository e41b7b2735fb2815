"""Confirming who a held vendor client is: the review queue's identity items.

The answer is a `client_aliases` row, and mapping tables are uploads (docs/sources.md): the
confirmation lands it as a one-row upload (`api.mapping_uploads`, as the console's mappings
page does), then records the reviewer's decision on the item. The next run resolves the key
and brings its rows in.
"""

from __future__ import annotations

from api.mapping_uploads import land_mapping_row
from api.upload_intake import Taken
from moatmetrics.appdb import reviews
from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ReviewItem
from moatmetrics.settings import Settings
from moatmetrics.trust.review_reasons import CLIENT_IDENTITY


class NotAnIdentityItem(ValueError):
    """The item is not an open client-identity question."""


def confirm_client(
    settings: Settings,
    actor: Actor,
    item_id: int,
    client_id: str,
    expected_hash: str | None = None,
) -> tuple[ReviewItem, Taken]:
    """Land the alias of identity item `item_id` and approve the item (both audited).

    Raises LookupError (no such item), NotAnIdentityItem, reviews.ReviewConflict (the held
    rows changed since `expected_hash`) or the intake's ProblemError (the file refused)."""
    with session_scope(settings) as session:
        item = session.get(ReviewItem, item_id)
        if item is None:
            raise LookupError(item_id)
        if item.mart != CLIENT_IDENTITY or item.status != "open":
            raise NotAnIdentityItem(
                f"review item {item_id} is not an open client-identity item"
                f" (it is {item.mart}, {item.status})"
            )
        if expected_hash is not None and expected_hash != item.content_hash:
            raise reviews.ReviewConflict(
                f"review item {item_id} changed since you read it; read it again"
            )
        held = reviews.parse_json_object(item.row_json)
    alias = {
        "source": held.get("client_source"),
        "source_key": str(held["client_key"]),
        "client_id": client_id,
    }
    taken = land_mapping_row(
        settings, actor, "client_aliases", alias, f"client_aliases_review_{item_id}.csv"
    )
    with session_scope(settings, write=True) as session:
        decided, _ = reviews.decide(
            session, actor, item_id, "approved",
            f"client confirmed: {client_id} (client_aliases upload #{taken.upload.id})",
            expected_hash,
        )  # fmt: skip
    return decided, taken
