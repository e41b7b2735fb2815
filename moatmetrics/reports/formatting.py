"""How report values print: one rule per kind, so the PDF, the XLSX and the docs agree.

Rounding is half-up on the decimal digits a person would read (a margin of 0.0665 prints as
6.7%), never on a float's binary approximation; floats are read through their shortest repr,
which is exactly the number the API's JSON shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import overload

from moatmetrics.contract.entities import TEXT_MAX_CHARS

NONE = "n/a"
# Text from the data is shown at most this long: the contract's bound for names and ids (older
# snapshots, or a PostgreSQL warehouse filled by other means, may hold longer text).
TEXT_LIMIT = TEXT_MAX_CHARS
EXPLANATION_LIMIT = 1_000
# Control characters, lone surrogates and the two non-characters XML forbids: a PDF prints them
# as boxes or garbage, a worksheet cannot hold them at all.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# DECIMAL(38, 2) has more digits than the default context (28) can quantize.
_CONTEXT = Context(prec=60)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


@overload
def printable(text: str, limit: int | None = None) -> str: ...
@overload
def printable(text: None, limit: int | None = None) -> None: ...
@overload
def printable(text: str | None, limit: int | None = None) -> str | None: ...


def printable(text: str | None, limit: int | None = None) -> str | None:
    """Any stored text made safe to print: unprintable characters become spaces, and text
    longer than `limit` is cut with "…" (a 5,000-character name cannot fit a page)."""
    if text is None:
        return None
    text = _UNPRINTABLE.sub(" ", text)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def exact(value: Decimal | float | int) -> Decimal:
    """The decimal a value shows in JSON: floats through their shortest repr."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def money(value: Decimal | float | None) -> str:
    """`1234.5` -> `1,234.50`; negative amounts keep a leading minus."""
    if value is None:
        return NONE
    cents = exact(value).quantize(_CENT, ROUND_HALF_UP, _CONTEXT)
    return f"{cents.copy_abs() if cents == 0 else cents:,}"  # never "-0.00"


def percent(fraction: Decimal | float | None) -> str:
    """A fraction as a percentage with one decimal: `0.7616` -> `76.2%`."""
    if fraction is None:
        return NONE
    tenths = (exact(fraction) * 100).quantize(_TENTH, ROUND_HALF_UP, _CONTEXT)
    return f"{tenths.copy_abs() if tenths == 0 else tenths}%"


def confidence(value: float | None) -> str:
    """Confidence with two decimals: `0.805` -> `0.81`."""
    if value is None:
        return NONE
    return str(exact(value).quantize(_CENT, ROUND_HALF_UP, _CONTEXT))


def count(value: int | None) -> str:
    return NONE if value is None else f"{value:,}"


def flag(needs_review: bool | None) -> str:
    """The needs-review column: `Review` when flagged, `OK` when not, n/a before trust ran."""
    if needs_review is None:
        return NONE
    return "Review" if needs_review else "OK"


def month(value: date) -> str:
    """`2024-10-01` -> `Oct 2024` (English month abbreviations, independent of locale)."""
    return f"{_MONTHS[value.month - 1]} {value.year}"


def day(value: date | None) -> str:
    """`2026-03-31` -> `31 Mar 2026` (a renewal date); unknown -> `n/a`."""
    return NONE if value is None else f"{value.day} {month(value)}"


def hours(value: Decimal | None) -> str:
    """Hours as money prints amounts (2 decimals, thousands separator): `1,234.50`."""
    return money(value)


def period(first: date | None, last: date | None) -> str:
    if first is None or last is None:
        return "no months"
    return month(first) if first == last else f"{month(first)} - {month(last)}"


def asked_period(month_from: date | None, month_to: date | None) -> str:
    """The month range a request asked for, open ends included."""
    if month_from and month_to:
        return period(month_from, month_to)
    if month_from:
        return f"from {month(month_from)}"
    return f"to {month(month_to)}" if month_to else "all months"


def filename(kind: str, snapshot_id: str, client_ids: Sequence[str],
             month_from: date | None, month_to: date | None, extension: str) -> str:  # fmt: skip
    """`client-profitability-<snapshot>-C1-2024-01_2024-03.pdf`: what, from which data, for whom.

    Only `A-Za-z0-9_-` and `.` reach the name (client ids are data), so it needs no quoting.
    """
    if len(client_ids) == 1:
        clients = _UNSAFE_FILENAME.sub("_", client_ids[0]).strip("_") or "client"
    else:
        clients = f"{len(client_ids)}-clients" if client_ids else "all-clients"
    first = month_from.strftime("%Y-%m") if month_from else "start"
    last = month_to.strftime("%Y-%m") if month_to else "end"
    months = "all-months" if not (month_from or month_to) else f"{first}_{last}"
    snapshot = _UNSAFE_FILENAME.sub("_", snapshot_id)
    return f"{kind}-{snapshot}-{clients}-{months}.{extension}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
