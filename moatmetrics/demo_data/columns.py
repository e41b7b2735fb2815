"""Typed pyarrow columns from numpy arrays, and the CSV writer the six files share.

One random stream per component (``_rng``), cents kept as integers until written (``_dec``),
and one writer so every file quotes and formats values the same way."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _rng(seed: int, stream: int, part: int = 0) -> np.random.Generator:
    """A generator private to one component (and month), independent of the others."""
    return np.random.default_rng([seed, stream, part])


def _dec(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Exact decimal(18,2) from integer cents, so CSV shows ``125.50`` and never float noise."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(2 * len(cents), dtype=np.int64)
    words[0::2] = cents
    words[1::2] = np.where(cents < 0, -1, 0)
    bitmap = None
    nulls = 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little").tobytes())
        nulls = int((~valid).sum())
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(cents), [bitmap, pa.py_buffer(words.tobytes())], nulls
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, built in Arrow (no Python string per row)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """Look up strings by index; a negative index becomes null (an empty CSV cell)."""
    return values.take(pa.array(index, pa.int64(), mask=index < 0))


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 from datetime64[D]; invalid or NaT entries become null."""
    days = days.astype("datetime64[D]")
    mask = np.isnat(days) if valid is None else (~valid | np.isnat(days))
    return pa.array(days, pa.date32(), mask=mask)


def _round_to(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(x / step) * step


def _cents(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x) * 100).astype(np.int64)


def _observed(day: date) -> date:
    """US federal rule: a Saturday holiday is taken on Friday, a Sunday one on Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th (1-based; -1 = last) given weekday of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _public_holidays(years: range) -> np.ndarray:
    """The holidays a US MSP closes for: everybody logs a ``holiday`` entry on them."""
    days: list[date] = []
    for y in years:
        days += [
            _observed(date(y, 1, 1)),
            _nth_weekday(y, 5, 0, -1),  # Memorial Day
            _observed(date(y, 7, 4)),
            _nth_weekday(y, 9, 0, 1),  # Labor Day
            _nth_weekday(y, 11, 3, 4),  # Thanksgiving
            _nth_weekday(y, 11, 3, 4) + timedelta(days=1),
            _observed(date(y, 12, 25)),
        ]
    return np.array(sorted(days), dtype="datetime64[D]")


class _CsvFile:
    """Appends Arrow tables to one CSV file with a plain (unquoted) canonical header."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.rows = 0
        self._fh: BinaryIO = path.open("wb")
        self._fh.write((",".join(columns) + "\n").encode())
        self._writer: pacsv.CSVWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, data: dict[str, pa.Array]) -> None:
        table = pa.table({c: data[c] for c in self.columns})
        if self._writer is None:
            # Never quote: generated strings hold no comma, quote or newline, and unquoted
            # cells are what spreadsheet exports of the real systems look like.
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            self._schema = table.schema
            self._writer = pacsv.CSVWriter(self._fh, table.schema, write_options=options)
        self._writer.write_table(table.cast(self._schema))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._fh.close()


def _write(path: Path, columns: tuple[str, ...], data: dict[str, pa.Array]) -> int:
    out = _CsvFile(path, columns)
    try:
        out.write(data)
    finally:
        out.close()
    return out.rows
