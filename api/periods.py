"""Which months of the current snapshot are complete, and which month a page shows.

A month is complete when every source that usually reports has reported for it (the dbt mart
`month_completeness`, docs/metrics.md): a month still arriving (ten time entries, no invoices
yet) would otherwise show as a collapse of revenue and utilisation. The console and the
reports read the months here, so every page defaults to the same month:
`last_complete_month(data_months(lease))`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from api.mart_catalog import MONTH_COMPLETENESS
from api.mart_queries import build_query, read_page
from api.problems import invalid_parameter
from api.schemas import MonthCompletenessRow
from moatmetrics.seam.base import SnapshotLease

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class DataMonth:
    """One month of the data and whether it is complete (what arrived, what is missing)."""

    month: date
    is_complete: bool
    reported: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    short: tuple[str, ...] = ()
    time_entries: int = 0
    usual_time_entries: Decimal | None = None

    @property
    def key(self) -> str:
        """The month as the `month` query parameter spells it (YYYY-MM)."""
        return self.month.strftime("%Y-%m")

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _from_row(row: MonthCompletenessRow) -> DataMonth:
    return DataMonth(
        month=row.month,
        is_complete=row.is_complete,
        reported=_split(row.reported_sources),
        missing=_split(row.missing_sources),
        short=_split(row.short_sources),
        time_entries=row.time_entries,
        usual_time_entries=row.usual_time_entries,
    )


def data_months(lease: SnapshotLease) -> list[DataMonth]:
    """Every month of the snapshot, oldest first, with its complete/partial flag.

    Read with the marts router's query code, so it is what `GET
    /api/v1/marts/month_completeness` serves. A snapshot published before that mart existed
    has the months of client_profitability, all taken as complete.
    """
    if MONTH_COMPLETENESS.name in lease.tables:
        query = build_query(MONTH_COMPLETENESS, {}, None, None, "month", 10_000, 0)
        page = read_page(MONTH_COMPLETENESS, lease, query)
        return [_from_row(row) for row in page.rows]
    if "client_profitability" not in lease.tables:
        return []
    schema = '"' + lease.schema.replace('"', '""') + '"'
    cursor = lease.cursor.execute(
        f"SELECT DISTINCT month FROM {schema}.client_profitability ORDER BY month"
    )
    return [DataMonth(month=row[0], is_complete=True) for row in cursor.fetchall()]


def months_like(data: Sequence[DataMonth], own: Iterable[date]) -> list[DataMonth]:
    """A page's own months (the staff mart's, say), oldest first, each with what the snapshot
    knows of its completeness (complete when it knows nothing of that month)."""
    known = {m.month: m for m in data}
    return [known.get(m) or DataMonth(m, True) for m in sorted(set(own))]


def last_complete_month(months: Sequence[DataMonth]) -> date | None:
    """The newest complete month (None when there is no month at all)."""
    complete = [m.month for m in months if m.is_complete]
    return complete[-1] if complete else None


def selected_month(months: Sequence[DataMonth], requested: str | None) -> date | None:
    """The month a page shows: `requested` (YYYY-MM) or else the last complete month.

    A malformed month, or one the snapshot has no data for, is a 422 problem naming the
    months that can be chosen (the console shows it as a page).
    """
    if requested is None or requested == "":
        return last_complete_month(months)
    match = _MONTH.match(requested.strip())
    known = {m.month for m in months}
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise invalid_parameter(
            "month", f"{requested!r} is not a month; write it as YYYY-MM, e.g. 2026-09"
        )
    chosen = date(int(match.group(1)), int(match.group(2)), 1)
    if chosen not in known:
        span = f"the data covers {months[0].key} to {months[-1].key}" if months else "no data yet"
        raise invalid_parameter("month", f"no data for {requested}; {span}")
    return chosen


def default_month_to(lease: SnapshotLease, month_to: str | None) -> str | None:
    """A report's last month: the one asked for, or, when none was and the newest month is
    still partial, the last complete month (a report does not end on half a month). With
    every month complete nothing changes: the report runs to the newest month as before."""
    if month_to is not None:
        return month_to
    months = data_months(lease)
    if not months or months[-1].is_complete:
        return None
    last = last_complete_month(months)
    return last.strftime("%Y-%m") if last is not None else None


def _words(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def partial_note(months: Sequence[DataMonth], shown: date | None) -> str | None:
    """A sentence when the newest month is partial, saying what arrived and what is shown:
    'October 2026 is partial: only time entries so far (10, 1 % of a usual month); invoices,
    license snapshots and expenses have not arrived. Showing September 2026.'"""
    if not months or months[-1].is_complete:
        return None
    newest = months[-1]
    arrived = f"only {_words(newest.reported)} so far" if newest.reported else "nothing yet"
    if "time entries" in newest.short and newest.usual_time_entries:
        share = newest.time_entries / float(newest.usual_time_entries)
        arrived += f" ({newest.time_entries:,} time entries, {share * 100:.0f} % of a usual month)"
    parts = [f"{newest.label} is partial: {arrived}"]
    if newest.missing:
        verb = "has" if len(newest.missing) == 1 else "have"
        parts.append(f"{_words(newest.missing)} {verb} not arrived")
    sentence = "; ".join(parts) + "."
    if shown is not None and shown != newest.month:
        sentence += f" Showing {shown.strftime('%B %Y')}."
    return sentence
