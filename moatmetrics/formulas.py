"""Text that a spreadsheet must never run as a formula, in every file MoatMetrics writes.

A value starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheet programs skip before such a sign) is read as a formula when a CSV or XLSX file is
opened: `=HYPERLINK(...)` leaks data, `=cmd|' /C calc'!A0` runs a program (OWASP "CSV
injection"). Client names, vendors, products, file names, audit targets and rejected values
all come from outside, so every writer passes its text through `neutralise`, which makes it
literal with a leading `'`. Numbers are written as numbers and never changed (-12.50 stays a
number). This module is the one rule; the XLSX reports, the mart and audit CSV exports and the
rejected-rows reports all use it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet could read as a formula, made literal with a leading `'`."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def neutralise_sql(expression: str) -> str:
    """`neutralise` as a SQL expression over a text column (files written by DuckDB's COPY)."""
    triggers = ", ".join("'" + t.replace("'", "''") + "'" for t in FORMULA_TRIGGERS)
    return (
        f"CASE WHEN left({expression}, 1) IN ({triggers}) THEN '''' || {expression}"
        f" ELSE {expression} END"
    )


class SafeCsvWriter:
    """`csv.writer` whose text cells are neutralised; other values are written as they are."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(v) if isinstance(v, str) else v for v in values])
