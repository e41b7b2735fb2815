"""Upload scopes on a real DuckDB warehouse: a newer upload of the same source replaces the
older rows dated in its range, whatever their keys; other dates and sources are kept; a
retracted upload's rows leave raw and what it had replaced counts again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pytest

from moatmetrics.contract.entities import ENTITIES
from moatmetrics.ingest.loader import Ingestor, ensure_ingest_schema
from moatmetrics.ingest.scopes import parse_period
from moatmetrics.settings import Settings

# Canonical time entries without entry_id: the id is derived from each row's content.
HEADER = "staff_id,client_id,work_date,hours\n"
JANUARY = HEADER + "S1,C1,2025-01-06,2.5\nS1,C1,2025-01-07,1.0\nS1,C2,2025-01-20,4.0\n"
# The corrected export of 6-7 January: new hours, so new derived ids; the 20th is outside.
CORRECTED = HEADER + "S1,C1,2025-01-06,2.0\nS1,C1,2025-01-07,1.5\n"


def _time(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    rows = con.execute(
        "SELECT CAST(work_date AS VARCHAR), client_id, CAST(hours AS VARCHAR)"
        " FROM raw.time_entries ORDER BY work_date, client_id, hours"
    )
    return rows.fetchall()


def test_a_corrected_export_replaces_its_range_and_a_retraction_undoes_it(
    upload: Callable, ingestor: Ingestor, warehouse: duckdb.DuckDBPyConnection
) -> None:
    first = upload("time_entries.csv", JANUARY)
    assert (first.scope_source, first.scope_start, first.scope_end) == (
        "canonical", date(2025, 1, 6), date(2025, 1, 20),
    )  # fmt: skip
    assert first.ids_derived and first.scope_replaces  # no entry_id column
    fixed = upload("time_entries_fixed.csv", CORRECTED)
    assert (fixed.scope_start, fixed.scope_end) == (date(2025, 1, 6), date(2025, 1, 7))
    assert _time(warehouse) == [
        ("2025-01-06", "C1", "2.0000"),
        ("2025-01-07", "C1", "1.5000"),
        ("2025-01-20", "C2", "4.0000"),  # outside the corrected range: kept
    ]
    assert ingestor.retract(fixed.upload_id, "wrong file", "tests") == "time_entries"
    assert ingestor.retract(fixed.upload_id, "again", "tests") is None  # retracted already
    assert _time(warehouse) == [
        ("2025-01-06", "C1", "2.5000"),
        ("2025-01-07", "C1", "1.0000"),
        ("2025-01-20", "C2", "4.0000"),
    ]
    again = upload("time_entries_fixed_copy.csv", CORRECTED)  # the same bytes
    assert again.status == "unchanged" and "retracted" in again.message


def test_another_source_is_not_replaced(upload: Callable, warehouse) -> None:
    upload("time_entries.csv", JANUARY)
    # The same period from a 1.x time log: still canonical, so it replaces.
    upload("time_logs.csv", "staff_name,client_name,date,hours\nS1,C1,2025-01-07,3.0\n")
    assert [(r[0], r[2]) for r in _time(warehouse)] == [
        ("2025-01-06", "2.5000"),
        ("2025-01-07", "3.0000"),  # its range is the 7th only
        ("2025-01-20", "4.0000"),
    ]
    # A different source (as a vendor profile would record) over the same dates replaces none.
    warehouse.execute(
        "UPDATE ingest.uploads SET scope_source = 'connectwise_time_entries'"
        " WHERE file_name = 'time_logs.csv'"
    )
    from moatmetrics.ingest.loader import rebuild_raw_table

    rebuild_raw_table(warehouse, ENTITIES["time_entries"])
    assert [r[0] for r in _time(warehouse)] == [
        "2025-01-06",
        "2025-01-07",
        "2025-01-07",
        "2025-01-20",
    ]


def test_license_scopes_are_whole_months(
    upload: Callable, ingestor: Ingestor, warehouse, tmp_path
) -> None:
    head = "client_id,vendor,product,snapshot_date,seats_purchased,seats_active,unit_cost\n"
    upload(
        "licenses.csv",
        head + "C1,Microsoft,M365 E3,2025-01-31,10,8,20\nC1,Microsoft,Teams,2025-02-28,5,5,4\n",
    )
    fixed_file = tmp_path / "licenses_fix.csv"
    fixed_file.write_text(head + "C1,Microsoft,M365 BP,2025-01-05,10,9,22\n")
    # A canonical file has its own keys: it replaces a period only when one is declared.
    fixed = ingestor.ingest_file(fixed_file, period=(date(2025, 1, 10), date(2025, 1, 20)))
    assert (fixed.scope_start, fixed.scope_end) == (date(2025, 1, 1), date(2025, 1, 31))
    rows = warehouse.execute(
        "SELECT product, CAST(snapshot_date AS VARCHAR) FROM raw.licenses ORDER BY snapshot_date"
    ).fetchall()
    assert rows == [("M365 BP", "2025-01-05"), ("Teams", "2025-02-28")]


def test_canonical_files_with_their_own_ids_add_up(upload: Callable, warehouse) -> None:
    """Exports split by technician for the same month, each row with its entry_id: the second
    replaces nothing but rows with its ids (a corrected row), so both technicians count."""
    head = "entry_id,staff_id,client_id,work_date,hours\n"
    first = upload("time_entries_s1.csv", head + "E1,S1,C1,2025-01-06,2.5\nE2,S1,C1,2025-01-20,1\n")
    second = upload("time_entries_s2.csv", head + "E3,S2,C1,2025-01-07,4\nE2,S1,C1,2025-01-20,2\n")
    assert first.scope_replaces is False and second.scope_replaces is False
    assert _time(warehouse) == [
        ("2025-01-06", "C1", "2.5000"),
        ("2025-01-07", "C1", "4.0000"),
        ("2025-01-20", "C1", "2.0000"),  # E2 corrected by id
    ]


def test_an_old_warehouse_gets_the_scope_columns_and_its_uploads_their_scope(
    upload: Callable, warehouse
) -> None:
    upload("time_entries.csv", JANUARY)
    for column in ("scope_source", "scope_start", "scope_end", "retracted_at"):
        warehouse.execute(f"ALTER TABLE ingest.uploads DROP COLUMN {column}")
    ensure_ingest_schema(warehouse)
    scope = warehouse.execute(
        "SELECT scope_source, CAST(scope_start AS VARCHAR), CAST(scope_end AS VARCHAR)"
        " FROM ingest.uploads"
    ).fetchall()
    assert scope == [("canonical", "2025-01-06", "2025-01-20")]


def test_a_declared_period_is_the_scope_and_must_hold_every_row(
    upload: Callable, ingestor: Ingestor, warehouse: duckdb.DuckDBPyConnection, tmp_path
) -> None:
    upload("time_entries.csv", JANUARY)
    # The week of the 6th had no time left after the correction: an export with one row of
    # the 20th, declared to cover the 6th to the 20th, clears the week.
    path = tmp_path / "time_entries_week.csv"
    path.write_text(HEADER + "S1,C2,2025-01-20,3.0\n")
    period = (date(2025, 1, 6), date(2025, 1, 20))
    done = ingestor.ingest_file(path, period=period)
    assert (done.status, done.scope_start, done.scope_end) == ("accepted", *period)
    assert _time(warehouse) == [("2025-01-20", "C2", "3.0000")]

    outside = tmp_path / "time_entries_outside.csv"
    outside.write_text(HEADER + "S1,C2,2025-01-10,1.0\nS1,C2,2025-02-03,1.0\n")
    refused = ingestor.ingest_file(outside, period=(date(2025, 1, 1), date(2025, 1, 31)))
    assert refused.status == "rejected"
    assert refused.message == (
        "row 3: work_date 2025-02-03 is outside the declared period 2025-01-01 to 2025-01-31:"
        " correct the date, or declare the period the export covers"
    )
    clients = tmp_path / "clients.csv"
    clients.write_text("client_id,client_name\nC1,Acme\n")
    undated = ingestor.ingest_file(clients, period=period)
    assert undated.status == "rejected" and "not to clients" in undated.message
    assert _time(warehouse) == [("2025-01-20", "C2", "3.0000")]  # nothing of the refused files


def test_parse_period() -> None:
    assert parse_period(" 2025-03-01..2025-03-31 ") == (date(2025, 3, 1), date(2025, 3, 31))
    for bad, says in (
        ("2025-03-01", "not START..END"),
        ("2025-03-01..03/31/2025", "not START..END"),
        ("2025-03-31..2025-03-01", "ends before it starts"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_period(bad)


def test_a_period_declared_over_http_reaches_the_ingest(home: Settings) -> None:
    """The form field travels with the landed file: the run's ingest uses it as the scope."""
    import dataclasses
    import io

    from api.problems import ProblemError
    from api.upload_intake import take_upload
    from moatmetrics.appdb.audit import Actor
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import Upload
    from moatmetrics.storage.configured import storage_for
    from orchestration.assets.ingest import ingest_landing

    settings = dataclasses.replace(home, run_on_upload=False)
    actor = Actor("tests", role="analyst")
    with pytest.raises(ProblemError) as refused:
        take_upload(settings, actor, io.BytesIO(JANUARY.encode()), "time_entries.csv", None, "x")
    assert refused.value.problem.status == 422 and "not START..END" in refused.value.problem.detail
    taken = take_upload(
        settings, actor, io.BytesIO(JANUARY.encode()), "time_entries.csv", None,
        "2025-01-01..2025-01-31",
    )  # fmt: skip
    assert not taken.run_requested
    (result,) = ingest_landing(settings, storage_for(settings))[0]
    assert (result.scope_start, result.scope_end) == (date(2025, 1, 1), date(2025, 1, 31))
    with session_scope(settings) as session:
        upload = session.get(Upload, taken.upload.id)
        assert upload is not None
        assert (upload.status, upload.scope_start, upload.declared_end) == (
            "accepted", date(2025, 1, 1), date(2025, 1, 31),
        )  # fmt: skip
