"""The engine end to end: vendor file -> detection -> ingest tables -> upload report."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from moatmetrics.sources.engine import SourceOptions
from tests.integration.sources.vendor_files import (
    cw_entry,
    cw_flat_csv,
    cw_json,
    xero_csv,
    xero_line,
)

ENTRIES = [
    cw_entry(1, "ACME", "jtech", "2026-07-06T09:00:00Z", 1.5),
    cw_entry(2, "ACME", "jtech", "2026-07-06T23:30:00Z", 0.75, option="NoCharge"),
    cw_entry(3, "GLOBEX", "bsmith", "2026-07-07T10:00:00Z", 2.0, option="DoNotBill"),
    cw_entry(4, "OURCO", "bsmith", "2026-07-07T12:00:00Z", 1.0, charge_to="ChargeCode"),
    cw_entry(5, "GLOBEX", "bsmith", "2026-07-08T12:00:00Z", 3.0, option="NoDefault"),
]


def _time_rows(warehouse):
    return warehouse.execute(
        "SELECT entry_id, staff_id, client_id, client_source, client_key, work_date, hours,"
        " billable, billing_option, work_type, ticket_id, bill_rate FROM raw.time_entries"
        " ORDER BY entry_id"
    ).fetchall()


EXPECTED_UTC = [
    ("1", "jtech", None, "connectwise", "ACME", date(2026, 7, 6), Decimal("1.5"), True,
     "billable", "remote_support", "4101", Decimal("150")),
    ("2", "jtech", None, "connectwise", "ACME", date(2026, 7, 6), Decimal("0.75"), False,
     "no_charge", "remote_support", "4102", Decimal("150")),
    ("3", "bsmith", None, "connectwise", "GLOBEX", date(2026, 7, 7), Decimal("2"), False,
     "do_not_bill", "remote_support", "4103", Decimal("150")),
    ("4", "bsmith", None, None, None, date(2026, 7, 7), Decimal("1"), True,
     "billable", "remote_support", None, Decimal("150")),
    ("5", "bsmith", None, "connectwise", "GLOBEX", date(2026, 7, 8), Decimal("3"), True,
     "billable", "remote_support", "4105", Decimal("150")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content"),
    [("cw_time.json", cw_json(ENTRIES)), ("cw_time_flat.csv", cw_flat_csv(ENTRIES))],
)
def test_connectwise_time_json_and_flat_csv_are_detected_and_mapped(
    name, content, upload, warehouse
):
    result = upload(name, content)
    assert result.status == "accepted", (result.message, result.problems)
    assert result.entity == "time_entries"
    assert result.profile == "connectwise_time_entries v1"
    assert result.rows_loaded == 5
    assert _time_rows(warehouse) == EXPECTED_UTC
    recorded = warehouse.execute(
        "SELECT profile, profile_version, rows_read, rows_skipped FROM ingest.upload_sources"
    ).fetchall()
    assert recorded == [("connectwise_time_entries", 1, 5, 0)]


def test_utc_start_becomes_the_local_work_date_across_midnight(upload, warehouse, monkeypatch):
    monkeypatch.setenv("MOATMETRICS_TIMEZONE", "America/New_York")
    result = upload("cw_time.json", cw_json(ENTRIES[:2]))
    assert result.status == "accepted", result.message
    dates = warehouse.execute(
        "SELECT entry_id, work_date FROM raw.time_entries ORDER BY entry_id"
    ).fetchall()
    # 09:00 UTC is 05:00 in New York the same day; 23:30 UTC is 19:30 the same day.
    assert dates == [("1", date(2026, 7, 6)), ("2", date(2026, 7, 6))]
    monkeypatch.setenv("MOATMETRICS_TIMEZONE", "Pacific/Auckland")
    later = [cw_entry(9, "ACME", "jtech", "2026-07-06T13:30:00Z", 1.0)]
    assert upload("cw_time_2.json", cw_json(later)).status == "accepted"
    # 13:30 UTC is 01:30 the next day in Auckland (UTC+12 in July).
    assert warehouse.execute(
        "SELECT work_date FROM raw.time_entries WHERE entry_id = '9'"
    ).fetchone() == (date(2026, 7, 7),)


XERO_LINES = [
    xero_line(ContactName="Acme Dental, PC", InvoiceNumber="INV-0001", InvoiceDate="11/06/2026",
              DueDate="25/06/2026", Total="1580.94", TaxTotal="0.00", InventoryItemCode="M365-BP",
              Description="Microsoft 365 Business Premium", Quantity="12.0000",
              UnitAmount="22.0000", LineAmount="264.0000", AccountCode="200"),
    xero_line(ContactName="Acme Dental, PC", InvoiceNumber="INV-0001", InvoiceDate="11/06/2026",
              DueDate="25/06/2026", Total="1580.94", TaxTotal="0.00", InventoryItemCode="MSP-GOLD",
              Description="Managed services", Quantity="1.0000", UnitAmount="1316.9400",
              LineAmount="1316.9400", AccountCode="200"),
    xero_line(ContactName="Globex Ltd", InvoiceNumber="CN-0002", InvoiceDate="12/06/2026",
              DueDate="12/06/2026", Total="50.00", TaxTotal="0.00", InventoryItemCode="LABOR",
              Quantity="1.0000", UnitAmount="50.0000", LineAmount="50.0000", AccountCode="210",
              Type="Sales credit note"),
    xero_line(ContactName="Globex Ltd", InvoiceNumber="", InvoiceDate="12/06/2026",
              Total="20.00", LineAmount="20.00", Type="Sales overpayment"),
    xero_line(ContactName="Initech", InvoiceNumber="INV-0003", InvoiceDate="01/07/2026",
              DueDate="15/07/2099", Total="100.00", TaxTotal="0.00", Quantity="1",
              UnitAmount="100", LineAmount="100.00", AccountCode="200",
              Status="Awaiting Payment"),
]  # fmt: skip


def test_xero_invoices_lines_credit_notes_negated_overpayments_skipped(upload, warehouse):
    result = upload("Invoices.csv", xero_csv(XERO_LINES))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "xero_invoices v2"
    assert result.rows_loaded == 4
    assert result.rows_skipped == 1
    assert "1 rows skipped (1 overpayment rows)" in result.message
    rows = warehouse.execute(
        "SELECT invoice_id, line_no, client_id, client_source, client_key, invoice_date,"
        " due_date, status, sku, account, quantity, amount, currency FROM raw.invoices"
        " ORDER BY invoice_id, line_no"
    ).fetchall()
    assert rows == [
        ("CN-0002", 1, None, "xero", "Globex Ltd", date(2026, 6, 12), date(2026, 6, 12),
         "paid", "LABOR", "210", Decimal("-1"), Decimal("-50"), "USD"),
        ("INV-0001", 1, None, "xero", "Acme Dental, PC", date(2026, 6, 11), date(2026, 6, 25),
         "paid", "M365-BP", "200", Decimal("12"), Decimal("264"), "USD"),
        ("INV-0001", 2, None, "xero", "Acme Dental, PC", date(2026, 6, 11), date(2026, 6, 25),
         "paid", "MSP-GOLD", "200", Decimal("1"), Decimal("1316.94"), "USD"),
        ("INV-0003", 1, None, "xero", "Initech", date(2026, 7, 1), date(2099, 7, 15),
         "sent", None, "200", Decimal("1"), Decimal("100"), "USD"),
    ]  # fmt: skip
    # Nothing personal or free text from the file is kept.
    columns = {r[0] for r in warehouse.execute("DESCRIBE raw.invoices").fetchall()}
    assert not {"emailaddress", "description", "email_address"} & columns


def test_bad_value_in_a_recognised_layout_gets_the_row_level_report(upload, warehouse):
    lines = [dict(line) for line in XERO_LINES[:2]]
    lines[1]["InvoiceDate"] = "31/31/2026"
    lines[0]["LineAmount"] = "26a4.00"
    result = upload("xero_export.csv", xero_csv(lines * 60))
    assert result.status == "rejected"  # every row is bad: above the rejected-rows threshold
    problems = warehouse.execute(
        "SELECT file_name, row_number, column_name, value, rule, fix FROM ingest.rejected_rows"
        " WHERE row_number IN (2, 3) ORDER BY row_number, column_name"
    ).fetchall()
    assert ("xero_export.csv", 2, "LineAmount", "26a4.00", "not a number",
            "use a plain number like 1234.50") in problems  # fmt: skip
    date_problem = next(p for p in problems if p[2] == "InvoiceDate")
    assert date_problem[:4] == ("xero_export.csv", 3, "InvoiceDate", "31/31/2026")
    assert "%d/%m/%Y" in date_problem[5] and "--date-format" in date_problem[5]


def test_us_organisation_overrides_the_date_layout(home, warehouse, tmp_path):
    from moatmetrics.ingest.loader import Ingestor

    lines = [dict(XERO_LINES[4], InvoiceDate="07/01/2026", DueDate="07/15/2099")]
    path = tmp_path / "xero_us.csv"
    path.write_text(xero_csv(lines))
    result = Ingestor(warehouse, home).ingest_file(
        path, options=SourceOptions(date_format="%m/%d/%Y")
    )
    assert result.status == "accepted", (result.message, result.problems)
    assert warehouse.execute("SELECT invoice_date FROM raw.invoices").fetchone() == (
        date(2026, 7, 1),
    )


def test_canonical_files_still_go_to_the_contract(upload, warehouse):
    result = upload("clients.csv", "client_id,client_name\nC1,Acme\n")
    assert result.status == "accepted"
    assert result.profile is None


def test_xero_tax_inclusive_organisation_amounts_exclude_tax(upload, warehouse):
    inclusive = [
        xero_line(ContactName="Acme", InvoiceNumber="INV-9", InvoiceDate="01/06/2026",
                  DueDate="15/06/2026", Total="345.00", TaxTotal="45.00", Quantity="1",
                  UnitAmount="115.00", LineAmount="115.00", TaxAmount="15.00"),
        xero_line(ContactName="Acme", InvoiceNumber="INV-9", InvoiceDate="01/06/2026",
                  DueDate="15/06/2026", Total="345.00", TaxTotal="45.00", Quantity="2",
                  UnitAmount="115.00", LineAmount="230.00", TaxAmount="30.00"),
        # Tax on top (exclusive): Total = lines + tax, amounts stay as written.
        xero_line(ContactName="Acme", InvoiceNumber="INV-10", InvoiceDate="01/06/2026",
                  DueDate="15/06/2026", Total="115.00", TaxTotal="15.00", Quantity="1",
                  UnitAmount="100.00", LineAmount="100.00", TaxAmount="15.00"),
    ]  # fmt: skip
    result = upload("Invoices.csv", xero_csv(inclusive))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.warnings == 0
    assert warehouse.execute(
        "SELECT invoice_id, line_no, unit_price, amount FROM raw.invoices ORDER BY 1, 2"
    ).fetchall() == [
        ("INV-10", 1, Decimal("100"), Decimal("100")),
        ("INV-9", 1, Decimal("100"), Decimal("100")),
        ("INV-9", 2, Decimal("100"), Decimal("200")),
    ]


def test_an_unknown_time_zone_is_a_clear_error(upload, monkeypatch):
    monkeypatch.setenv("MOATMETRICS_TIMEZONE", "Mars/Olympus")
    result = upload("cw_time.json", cw_json(ENTRIES[:1]))
    assert result.status == "rejected"
    assert "MOATMETRICS_TIMEZONE 'Mars/Olympus' is not a time zone" in result.message


def test_a_vendor_file_the_reader_cannot_parse_is_rejected_whole_with_the_line(upload, warehouse):
    text = xero_csv(XERO_LINES[:2]) + "Acme" + ",x" * 44 + "\n"
    result = upload("Invoices.csv", text)
    assert result.status == "rejected"
    assert "the xero_invoices profile could not read the file" in result.message
    assert "Line: 4" in result.message or "row 4" in result.message
    assert warehouse.execute("SELECT count(*) FROM raw.invoices").fetchone() == (0,)
