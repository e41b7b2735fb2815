"""Large uploads are validated by Great Expectations in parts, with the same findings.

`GX_PART_ROWS` is lowered so a small file splits into many parts; the problems, expectation
outcomes and counts must equal those of the same file validated whole, in a second home.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from moatmetrics.ingest.loader import Ingestor
from moatmetrics.quality import gate
from moatmetrics.quality.suites import load_suite_document, split_key
from moatmetrics.settings import ensure_home, get_settings

HEADER = "entry_id,staff_id,client_id,work_date,hours,billable,work_type,ticket_id,bill_rate"


def _time_entries(rows: int = 1000) -> str:
    lines = [HEADER]
    for i in range(1, rows + 1):
        hours = {17: "13", 101: "12.5", 250: "0"}.get(i, "1.5")  # warnings: over 12 h, zero
        rate = "-5" if i in (33, 202) else "100"  # warning: negative bill rate
        lines.append(f"E{i},S1,C1,2025-01-06,{hours},yes,remote_support,T{i},{rate}")
    return "\n".join(lines) + "\n"


def _ingest(tmp_path: Path, name: str, content: str):
    settings = dataclasses.replace(get_settings(), home=tmp_path / name)
    ensure_home(settings)
    path = tmp_path / f"{name}-files" / "time_entries.csv"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        return Ingestor(con, settings).ingest_file(path)
    finally:
        con.close()


def test_split_validation_finds_what_whole_validation_finds(tmp_path, monkeypatch) -> None:
    content = _time_entries()
    whole = _ingest(tmp_path, "whole", content)
    monkeypatch.setattr(gate, "GX_PART_ROWS", 150)  # 1000 rows -> 7 parts
    split = _ingest(tmp_path, "split", content)
    assert whole.status == split.status == "accepted", whole.message
    key = lambda p: (p["row"], p["column"], p["rule"])  # noqa: E731
    assert sorted(whole.problems, key=key) == sorted(split.problems, key=key)
    assert {p["row"] for p in whole.problems} == {18, 34, 102, 203, 251}  # line = entry + 1
    assert whole.expectations == split.expectations
    assert (whole.rows_loaded, whole.warnings) == (split.rows_loaded, split.warnings)


@pytest.mark.parametrize(
    ("expectations", "key"),
    [
        ([{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}], []),
        (
            [
                {"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}},
                {"type": "expect_compound_columns_to_be_unique",
                 "kwargs": {"column_list": ["a", "b"]}},
            ],
            ["a", "b"],
        ),
        (
            [
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}},
                {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "b"}},
            ],
            None,  # two keys: no split keeps both sets of duplicates together
        ),
        ([{"type": "expect_column_mean_to_be_between", "kwargs": {"column": "a"}}], None),
    ],
)  # fmt: skip
def test_split_key_only_where_parts_cannot_change_the_result(expectations, key) -> None:
    assert split_key({"expectations": expectations}) == key


def test_shipped_suites_can_all_be_split() -> None:
    for entity in ("clients", "staff", "time_entries", "invoices", "licenses", "expenses"):
        assert split_key(load_suite_document(entity)) is not None, entity
