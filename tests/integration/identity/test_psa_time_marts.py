"""PSA time in the marts, end to end: canonical CSVs with the contract v2 column
`billing_option` and vendor-named absence work types go through the real Ingestor (typing,
suite, raw tables), then a real `dbt build` on the DuckDB warehouse.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from moatmetrics.settings import Settings
from tests.integration.dbt.dbt_test_support import normalize_rows, run_dbt

CLIENTS = "client_id,client_name\nC1,Acme Dental\n"
STAFF = "staff_id,staff_name,hourly_cost,weekly_hours\nS1,Jo Tech,50,40\n"
# March 2026 has 22 weekdays: 176 contracted hours.
TIME_ENTRIES = """entry_id,staff_id,client_id,work_date,hours,billable,billing_option,work_type
T1,S1,C1,2026-03-02,4,true,billable,remote_support
T2,S1,C1,2026-03-03,1.5,,no_charge,remote_support
T3,S1,C1,2026-03-04,2,true,Do Not Bill,onsite
T4,S1,,2026-03-04,3,false,no_charge,admin
T5,S1,,2026-03-05,8,false,,Vacation
T6,S1,,2026-03-06,8,false,,Public Holiday
T7,S1,,2026-03-09,1,false,,Sick Leave
"""


def _build(home: Settings, work_dir: Path, **env: str):
    """`dbt build` as a run does it (no unit tests: tests/dbt/test_dbt_project.py runs them)."""
    return run_dbt(
        ["build", "--target", "duckdb", "--exclude-resource-type", "unit_test"],
        work_dir,
        {"MOATMETRICS_WAREHOUSE_PATH": str(home.warehouse_path), **env},
    )


def _mart(home: Settings, mart: str, where: str) -> list[dict]:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as con:
        cursor = con.execute(f"select * from marts.{mart} where {where}")
        names = [d[0] for d in cursor.description]
        return normalize_rows([dict(zip(names, r, strict=True)) for r in cursor.fetchall()])


@pytest.fixture
def ingested(home: Settings, warehouse: duckdb.DuckDBPyConnection, upload) -> Settings:
    for name, content in (
        ("clients.csv", CLIENTS),
        ("staff.csv", STAFF),
        ("time_entries.csv", TIME_ENTRIES),
    ):
        result = upload(name, content)
        assert result.status == "accepted", (name, result.message, result.problems)
    assert warehouse.execute(
        "select entry_id, billable, billing_option, work_type from raw.time_entries"
        " order by entry_id"
    ).fetchall() == [
        ("T1", True, "billable", "remote_support"),
        ("T2", True, "no_charge", "remote_support"),  # billable defaults to true at ingest
        ("T3", True, "do_not_bill", "onsite"),
        ("T4", False, "no_charge", "admin"),
        ("T5", False, None, "vacation"),
        ("T6", False, None, "public_holiday"),
        ("T7", False, None, "sick_leave"),
    ]
    warehouse.close()  # dbt opens the warehouse file itself
    return home


def test_billing_option_and_absence_names_reach_the_marts(ingested: Settings, tmp_path: Path):
    run = _build(ingested, tmp_path / "dbt")
    assert run.success, run.exception

    (client,) = _mart(ingested, "client_profitability", "client_id = 'C1'")
    # T1 billable; T2 no_charge and T3 do_not_bill are not billable whatever `billable` says;
    # internal (T4) and absence (T5, T6) are not client labor.
    assert client["labor_hours"] == "7.50"
    assert client["billable_hours"] == "4.00"
    assert client["no_charge_hours"] == "1.50"
    assert client["labor_cost"] == "375.00"

    (staff,) = _mart(ingested, "staff_utilization", "staff_id = 'S1'")
    # Vacation (pto) and Public Holiday (holiday) are absence by the default names; "Sick
    # Leave" is not one of them (names match whole), so it is logged work.
    assert staff["available_hours"] == "160.00"
    assert staff["logged_hours"] == "11.50"
    assert staff["billable_hours"] == "4.00"
    # T4 is no_charge but internal: not client work given away
    assert staff["no_charge_hours"] == "1.50"


def test_configured_absence_names_replace_the_default(ingested: Settings, tmp_path: Path):
    run = _build(
        ingested,
        tmp_path / "dbt",
        MOATMETRICS_ABSENCE_WORK_TYPES="pto: Sick Leave, vacation; holiday: Public-Holiday",
    )
    assert run.success, run.exception
    (staff,) = _mart(ingested, "staff_utilization", "staff_id = 'S1'")
    # all three are absence now: 176 - 17 available, 10.5 logged
    assert staff["available_hours"] == "159.00"
    assert staff["logged_hours"] == "10.50"


def test_an_unknown_absence_kind_fails_the_build_naming_the_variable(
    ingested: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    run = _build(ingested, tmp_path / "dbt", MOATMETRICS_ABSENCE_WORK_TYPES="sickness: sick")
    assert not run.success
    output = capsys.readouterr().out
    assert "MOATMETRICS_ABSENCE_WORK_TYPES: 'sickness: sick' is not" in output


def test_an_unknown_billing_option_is_a_rejected_row(home: Settings, upload):
    upload("clients.csv", CLIENTS)
    upload("staff.csv", STAFF)
    content = (
        "entry_id,staff_id,client_id,work_date,hours,billing_option\n"
        "T1,S1,C1,2026-03-02,1,no_charge\n"
        "T2,S1,C1,2026-03-02,1,free\n"
    )
    result = upload("time_entries.csv", content)
    # one bad row of two is over the 1 % threshold: the whole file is rejected, with the row
    assert result.status == "rejected"
    (problem,) = [p for p in result.problems if p["column"] == "billing_option"]
    assert problem["row"] == 3
    assert problem["value"] == "free"
    assert problem["rule"] == "not a known billing option"
    assert "billable, do_not_bill or no_charge" in problem["fix"]
