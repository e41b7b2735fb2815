"""Client identity end to end: canonical CSVs naming clients by vendor keys, and the
client_aliases mapping upload, go through the real Ingestor; a real `dbt build` resolves
them (alias, normalised name, held); an alias uploaded later brings the held rows in.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from moatmetrics.ingest.loader import Ingestor
from moatmetrics.settings import Settings
from tests.integration.dbt.dbt_test_support import normalize_rows, run_dbt

CLIENTS = "client_id,client_name\nC1,Acme Dental\nC2,Birch & Sons Pty Ltd\n"
STAFF = "staff_id,staff_name,hourly_cost\nS1,Jo Tech,50\n"
ALIASES = "source,source_key,client_id\nConnectWise,ACME,C1\nconnectwise,OURCO,-\n"
TIME_ENTRIES = """entry_id,staff_id,work_date,hours,client_source,client_key,billing_option
T1,S1,2026-03-02,2,connectwise,acme,
T2,S1,2026-03-03,3,connectwise,OURCO,
T3,S1,2026-03-04,1.5,connectwise,NEWCO,no_charge
"""
INVOICES = """invoice_id,client_id,client_source,client_key,invoice_date,amount,status
INV1,,qbo,Birch and Sons,2026-03-31,500,paid
INV2,,qbo,Newco Ltd,2026-03-31,250,paid
"""
NEW_ALIASES = "source,source_key,client_id\nconnectwise,newco,C2\nqbo,NEWCO LTD,C2\n"


def _ingest(home: Settings, tmp_path: Path, files: dict[str, str]) -> None:
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    with duckdb.connect(str(home.warehouse_path)) as con:
        ingestor = Ingestor(con, home)
        for name, content in files.items():
            path = folder / name
            path.write_text(content, encoding="utf-8")
            result = ingestor.ingest_file(path)
            assert result.status == "accepted", (name, result.message, result.problems)


def _build(home: Settings, work_dir: Path) -> None:
    run = run_dbt(
        ["build", "--target", "duckdb", "--exclude-resource-type", "unit_test"],
        work_dir,
        {"MOATMETRICS_WAREHOUSE_PATH": str(home.warehouse_path)},
    )
    assert run.success, run.exception


def _rows(home: Settings, sql: str) -> list[dict]:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return normalize_rows([dict(zip(names, r, strict=True)) for r in cursor.fetchall()])


def _clients(home: Settings) -> list[dict]:
    return _rows(
        home,
        "select client_id, labor_hours, no_charge_hours, revenue from marts.client_profitability"
        " order by client_id",
    )


def test_aliases_names_and_held_rows_then_an_alias_brings_them_in(
    home: Settings, tmp_path: Path
) -> None:
    _ingest(
        home,
        tmp_path,
        {
            "clients.csv": CLIENTS,
            "staff.csv": STAFF,
            "client_aliases.csv": ALIASES,
            "time_entries.csv": TIME_ENTRIES,
            "invoices.csv": INVOICES,
        },
    )
    # the mapping upload is a contract entity: typed (source lower case), in raw
    assert _rows(home, "select source, source_key, client_id from raw.client_aliases") == [
        {"source": "connectwise", "source_key": "ACME", "client_id": "C1"},
        {"source": "connectwise", "source_key": "OURCO", "client_id": "-"},
    ]
    _build(home, tmp_path / "dbt1")

    # T1 by alias (key case-insensitive), INV1 by normalised name (& = and, Pty Ltd), T2 is
    # the MSP's own time (alias -), T3 and INV2 are held: out of every client's numbers
    assert _clients(home) == [
        {"client_id": "C1", "labor_hours": "2.00", "no_charge_hours": "0.00", "revenue": "0.00"},
        {"client_id": "C2", "labor_hours": "0.00", "no_charge_hours": "0.00", "revenue": "500.00"},
    ]
    # held time still counts for the staff member (the work was done), given away included
    (staff,) = _rows(home, "select logged_hours, no_charge_hours from marts.staff_utilization")
    assert staff == {"logged_hours": "6.50", "no_charge_hours": "1.50"}
    assert _rows(
        home, "select * from intermediate.int_client_keys_held order by client_source"
    ) == [
        {
            "client_source": "connectwise",
            "client_key": "NEWCO",
            "time_entry_rows": 1,
            "invoice_line_rows": 0,
            "expense_rows": 0,
            "license_fact_rows": 0,
            "held_rows": 1,
        },
        {
            "client_source": "qbo",
            "client_key": "Newco Ltd",
            "time_entry_rows": 0,
            "invoice_line_rows": 1,
            "expense_rows": 0,
            "license_fact_rows": 0,
            "held_rows": 1,
        },
    ]
    resolutions = _rows(
        home,
        "select entry_id, client_id, client_resolution, is_held"
        " from staging.stg_raw__time_entries order by entry_id",
    )
    assert [tuple(r.values()) for r in resolutions] == [
        ("T1", "C1", "alias", False),
        ("T2", None, "internal", False),
        ("T3", None, "held", True),
    ]

    # the held rows waited in the warehouse: aliases for their keys bring them in
    _ingest(home, tmp_path, {"client_aliases_2.csv": NEW_ALIASES})
    _build(home, tmp_path / "dbt2")
    assert _clients(home) == [
        {"client_id": "C1", "labor_hours": "2.00", "no_charge_hours": "0.00", "revenue": "0.00"},
        {"client_id": "C2", "labor_hours": "1.50", "no_charge_hours": "1.50", "revenue": "750.00"},
    ]
    assert _rows(home, "select * from intermediate.int_client_keys_held") == []


def test_alias_keys_are_one_key_whatever_their_case(home: Settings, upload) -> None:
    result = upload(
        "client_aliases.csv", "source,source_key,client_id\nxero,Acme,C1\nxero,ACME ,C2\n"
    )
    assert result.status == "rejected"
    rules = {p["rule"] for p in result.problems}
    assert "rows share the key (source, source_key; case-insensitive) but differ" in rules


def test_an_account_mapped_to_an_unknown_category_is_a_rejected_row(home: Settings, upload) -> None:
    content = "source,account,category\nxero,200,Recurring\nxero,Sales - Hardware,gadgets\n"
    result = upload("account_map.csv", content)
    assert result.status == "rejected"  # 1 of 2 rows is over the 1 % threshold
    (problem,) = result.problems
    assert (problem["row"], problem["column"], problem["value"]) == (3, "category", "gadgets")
    assert problem["rule"] == "not a known invoice category"


def test_a_product_map_upload_lands_in_raw(home: Settings, upload, warehouse) -> None:
    content = (
        "source,source_product,vendor,product,category\n"
        "connectwise,M365-BP,Microsoft,Microsoft 365 Business Premium,license\n"
    )
    result = upload("product_map.csv", content)
    assert result.status == "accepted", (result.message, result.problems)
    assert warehouse.execute("select * exclude (_upload_id, _row_number) from raw.product_map")\
        .fetchall() == [
        ("connectwise", "M365-BP", "Microsoft", "Microsoft 365 Business Premium", "license")
    ]  # fmt: skip
