"""Files too big or too strange to read: each is refused with its reason, nothing escapes.

Part of the bad-input corpus (test_bad_input_corpus.py) for the files that are generated at run
time into tmp_path because they are large (a 33 MB row, a 13 MB JSON object of a million keys,
a workbook that inflates to 200 MB). Before issue 20 each of these either raised out of the
ingest (and blocked every later run) or was accepted with its row silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bad_files import huge_row_among_good_ones, million_keys, one_huge_row, understated_workbook
from test_bad_input_corpus import HEADERS, csv_with

BIG_CASES: list[tuple[str, str, Callable[[Path], None], str]] = [
    (
        "XLSX whose zip headers understate its size",
        "clients.xlsx",
        understated_workbook,
        "is larger than its zip header says",
    ),
    (
        "JSON object with a million keys",
        "expenses.json",
        million_keys,
        "the records have 1,000,002 different keys (limit 1,000)",
    ),
    ("CSV whose only row is 33 MB", "expenses.csv", one_huge_row, "row 2 is 34,603,"),
    (
        "CSV with a 9 MB row after good ones",
        "expenses.csv",
        huge_row_among_good_ones,
        "row 22 is 9,437,",
    ),
]


@pytest.mark.parametrize(
    ("name", "file_name", "make", "message"), BIG_CASES, ids=[c[0] for c in BIG_CASES]
)
def test_big_bad_file_is_refused_as_unreadable(
    name, file_name, make, message, tmp_path, ingestor, warehouse
):
    path = tmp_path / file_name
    make(path)
    result = ingestor.ingest_file(path)
    assert result.status == "rejected", result.message
    assert message in result.message
    assert result.unreadable and result.rows_loaded == 0
    recorded = warehouse.execute(
        "SELECT status, message FROM ingest.uploads WHERE upload_id = ?", [result.upload_id]
    ).fetchone()
    assert recorded == ("rejected", result.message)
    for entity in HEADERS:
        assert warehouse.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0] == 0


def test_a_long_row_within_the_bound_is_read(tmp_path, ingestor, warehouse):
    """The bound is on absurd rows, not long ones: 3 MB of notes in an unknown column load."""
    path = tmp_path / "expenses.csv"
    notes = "n" * (3 * 2**20)
    path.write_text(HEADERS["expenses"] + ",notes\nX1,C1,2025-01-10,50.00,travel," + notes + "\n")
    result = ingestor.ingest_file(path)
    assert result.status == "accepted", result.message
    assert result.rows_loaded == 1


def test_an_over_limit_file_is_refused_before_it_is_archived(tmp_path, monkeypatch, warehouse):
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.settings import get_settings

    monkeypatch.setenv("MOATMETRICS_MAX_UPLOAD_BYTES", "1000")
    settings = get_settings()
    path = tmp_path / "time_entries.csv"
    path.write_text(csv_with("time_entries"))
    result = Ingestor(warehouse, settings).ingest_file(path)
    assert result.status == "rejected" and result.unreadable
    assert "over the 1,000-byte limit" in result.message
    assert not settings.uploads_dir.exists() or not any(settings.uploads_dir.iterdir())
    archived = warehouse.execute(
        "SELECT archived_path FROM ingest.uploads WHERE upload_id = ?", [result.upload_id]
    ).fetchone()
    assert archived == (None,)
