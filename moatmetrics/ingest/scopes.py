"""Upload scopes: what a newer upload replaces (docs/warehouse.md, "Schema raw").

An accepted upload of a dated entity replaces the older rows of the same source (the profile
that read it, or ``canonical``) dated inside its scope: the range of its own dates, or the
period its uploader declared. Kept apart from the loader so the API can check a declared
period without importing the ingest machinery.
"""

from __future__ import annotations

from datetime import date

#: The source of an upload no profile read (a file in the canonical contract).
CANONICAL_SOURCE = "canonical"
RETRACTED = "retracted"

#: Dated entities: the date column an upload's scope spans. Licenses are one row per month,
#: so their scope covers whole months of ``snapshot_date``. Entities without a date (clients,
#: staff, the mapping tables) are replaced by key only.
SCOPE_DATES: dict[str, str] = {
    "time_entries": "work_date",
    "invoices": "invoice_date",
    "expenses": "expense_date",
    "licenses": "snapshot_date",
}
MONTHLY_SCOPES = frozenset({"licenses"})


def parse_period(text: str) -> tuple[date, date]:
    """A declared period, ``YYYY-MM-DD..YYYY-MM-DD`` (both days included), or ValueError
    saying what is wrong."""
    start_text, sep, end_text = text.strip().partition("..")
    try:
        if not sep:
            raise ValueError
        start, end = date.fromisoformat(start_text.strip()), date.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(
            f"the period {text!r} is not START..END with ISO dates, e.g. 2025-03-01..2025-03-31"
        ) from None
    if end < start:
        raise ValueError(f"the period {text!r} ends before it starts")
    return start, end
