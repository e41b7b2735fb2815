# ruff: noqa: E501  (fixture rows are kept one per line)
"""Every shipped profile on a fixture written from the vendor's documented headers."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from tests.integration.sources.vendor_files import (
    AUTOTASK_CSU_HEADER,
    HALO_HEADER,
    QBO_INVOICE_LIST,
    QBO_SALES_CLASSIC,
    QBO_SALES_MODERN,
    autotask_entry,
    csv_text,
    cw_addition,
    m365_active_csv,
    m365_users_csv,
    partner_center_csv,
    xero_csv,
    xero_line,
)

QBO_EXPECTED = [
    ("1001", 1, "Riverside Dental, PC", date(2026, 3, 2), "Managed Services", Decimal("1"),
     Decimal("1200"), Decimal("1200"), "sent"),
    ("1001", 2, "Riverside Dental, PC", date(2026, 3, 2), "M365 Business Premium",
     Decimal("10"), Decimal("22"), Decimal("220"), "sent"),
    ("1002", 1, "Riverside Dental, PC", date(2026, 3, 15), "Managed Services", Decimal("1"),
     Decimal("-50"), Decimal("-50"), "sent"),
    ("1003", 1, "Bridges of Pine Creek:BOPC Pebble", date(2026, 3, 5), "Hardware",
     Decimal("1"), Decimal("899.99"), Decimal("899.99"), "paid"),
]  # fmt: skip


def test_qbo_sales_by_customer_detail_both_vocabularies(upload, warehouse):
    for name, text in (
        ("sales_classic.csv", QBO_SALES_CLASSIC),
        ("sales_modern.csv", QBO_SALES_MODERN),
    ):
        warehouse.execute("DELETE FROM ingest.invoices_rows")
        result = upload(name, text)
        assert result.status == "accepted", (name, result.message, result.problems)
        assert result.profile == "qbo_sales_by_customer_detail v1"
        assert result.rows_loaded == 4
        # 2 group rows, 2 subtotals + TOTAL, the footer, and the blank line's row if any.
        skipped = dict(
            warehouse.execute(
                "SELECT s.profile, s.skipped_detail FROM ingest.upload_sources s"
                " WHERE upload_id = ?",
                [result.upload_id],
            ).fetchall()
        )
        detail = json.loads(skipped["qbo_sales_by_customer_detail"])
        assert detail["group rows"] == 2 and detail["subtotal rows"] == 3
        assert detail["report footer"] == 1
        assert result.rows_skipped == sum(detail.values())
        assert result.rows_rejected == 0
        rows = warehouse.execute(
            "SELECT invoice_id, line_no, client_key, invoice_date, sku, quantity, unit_price,"
            " amount, status FROM raw.invoices ORDER BY invoice_id, line_no"
        ).fetchall()
        assert rows == QBO_EXPECTED, name


def test_qbo_money_layout_is_accepted_only_where_declared(upload):
    # The same "$1,200.00" in a canonical invoices file is an error with the usual report.
    result = upload(
        "invoices.csv",
        'invoice_id,client_id,invoice_date,amount\nI1,C1,2026-03-02,"$1,200.00"\n',
    )
    assert result.status == "rejected"
    assert result.problems[0]["rule"] == "currency sign in a number"


def test_qbo_invoice_list_gives_status_and_due_date(upload, warehouse):
    result = upload("invoice_list.csv", QBO_INVOICE_LIST)
    assert result.status == "accepted", (result.message, result.problems)
    assert result.entity == "invoice_status"
    rows = warehouse.execute(
        "SELECT invoice_id, client_key, invoice_date, due_date, status, amount, open_balance"
        " FROM raw.invoice_status ORDER BY invoice_id"
    ).fetchall()
    assert rows == [
        ("1001", "Riverside Dental, PC", date(2026, 3, 2), date(2026, 4, 1), "paid",
         Decimal("1420"), Decimal("0")),
        ("1004", "Bridges of Pine Creek:BOPC Pebble", date(2026, 3, 20), date(2026, 4, 19),
         "overdue", Decimal("300"), Decimal("300")),
        ("1005", "Acme", date(2026, 3, 21), date(2099, 12, 31), "sent", Decimal("2000"),
         Decimal("2000")),
    ]  # fmt: skip


def test_xero_bills_become_expenses_with_tracked_client_and_supplier(upload, warehouse):
    bills = [
        xero_line(ContactName="Microsoft Ireland Operations Ltd", InvoiceNumber="B-1",
                  InvoiceDate="05/06/2026", LineAmount="198.00", AccountCode="LIC",
                  TrackingName1="Client", TrackingOption1="Acme Dental", Type="Bill"),
        xero_line(ContactName="Office Rent Ltd", InvoiceNumber="B-2", InvoiceDate="01/06/2026",
                  LineAmount="2500.00", AccountCode="RENT", Type="Bill"),
        xero_line(ContactName="Dell", InvoiceNumber="B-3", InvoiceDate="02/06/2026",
                  LineAmount="899.00", AccountCode="HW", TrackingName1="Region",
                  TrackingOption1="North", TrackingName2="Client", TrackingOption2="Globex",
                  Type="Bill"),
        xero_line(ContactName="Dell", InvoiceNumber="", InvoiceDate="02/06/2026",
                  LineAmount="10.00", Type="Bill overpayment"),
    ]  # fmt: skip
    result = upload("Bills.csv", xero_csv(bills))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "xero_bills v1" and result.rows_skipped == 1
    rows = warehouse.execute(
        "SELECT client_id, client_source, client_key, expense_date, amount, category, supplier"
        " FROM raw.expenses ORDER BY expense_date, amount"
    ).fetchall()
    assert rows == [
        (None, None, None, date(2026, 6, 1), Decimal("2500"), "RENT", "Office Rent Ltd"),
        (None, "xero", "Globex", date(2026, 6, 2), Decimal("899"), "HW", "Dell"),
        (None, "xero", "Acme Dental", date(2026, 6, 5), Decimal("198"), "LIC",
         "Microsoft Ireland Operations Ltd"),
    ]  # fmt: skip


def _facts(warehouse):
    return warehouse.execute(
        "SELECT source, client_source, client_key, client_id, vendor, product, as_of_date, fact,"
        " user_hash IS NOT NULL, quantity, unit_cost, unit_price, term_end_date,"
        " subscription_id, effective_date, cancelled_date, billing_frequency, deleted,"
        " client_name FROM raw.license_facts ORDER BY product, user_hash, effective_date"
    ).fetchall()


def test_m365_users_both_layouts_give_the_same_assigned_facts(upload, warehouse):
    a = upload("users_2026-06-30.csv", m365_users_csv("A"))
    assert a.status == "accepted", (a.message, a.problems)
    assert a.profile == "m365_users v1"
    facts_a = _facts(warehouse)
    hashes_a = warehouse.execute("SELECT user_hash FROM raw.license_facts ORDER BY 1").fetchall()
    warehouse.execute("DELETE FROM ingest.license_facts_rows")
    b = upload("exported_users.csv", m365_users_csv("B"), entity=None)
    assert b.status == "accepted", (b.message, b.problems)
    # Layout B's file has no date in its name: dated by the upload, with a warning.
    assert any("--as-of" in n for n in b.notes)
    facts_b = _facts(warehouse)
    hashes_b = warehouse.execute("SELECT user_hash FROM raw.license_facts ORDER BY 1").fetchall()
    assert hashes_a == hashes_b  # same salt, same users
    assert [f[:6] + f[7:] for f in facts_a] == [f[:6] + f[7:] for f in facts_b]
    products = sorted((f[2], f[5]) for f in facts_a)
    assert products == [
        ("contoso.com", "Microsoft 365 Business Premium"),
        ("contoso.com", "Microsoft 365 Business Premium"),
        ("contoso.com", "Microsoft Teams Phone Standard"),
        ("contoso.onmicrosoft.com", "Microsoft 365 Business Basic"),
    ]
    assert {f[6] for f in facts_a} == {date(2026, 6, 30)}
    assert {(f[0], f[1], f[4], f[7]) for f in facts_a} == {
        ("m365_users", "m365_domain", "Microsoft", "assigned")
    }
    assert a.rows_skipped == 1  # the Unlicensed admin


def test_m365_users_client_and_as_of_from_the_command_line(home, warehouse, tmp_path):
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.sources.engine import SourceOptions

    path = tmp_path / "users.csv"
    path.write_text(m365_users_csv("A"))
    result = Ingestor(warehouse, home).ingest_file(
        path, options=SourceOptions(as_of=date(2026, 5, 31), client="C-ACME")
    )
    assert result.status == "accepted", result.message
    assert not any("--as-of" in n for n in result.notes)
    assert warehouse.execute(
        "SELECT DISTINCT client_id, as_of_date FROM raw.license_facts"
    ).fetchall() == [("C-ACME", date(2026, 5, 31))]


def test_m365_active_users_latest_activity_and_deleted(upload, warehouse):
    rows = [
        {"User Principal Name": "AdeleV@contoso.com", "Display Name": "Adele Vance",
         "Exchange Last Activity Date": "2026-05-31", "Teams Last Activity Date": "2026-06-20",
         "Assigned Products": "MICROSOFT 365 BUSINESS PREMIUM+MICROSOFT TEAMS PHONE STANDARD"},
        {"User Principal Name": "AlexW@contoso.com", "Display Name": "Alex Wilber",
         "Assigned Products": "MICROSOFT 365 BUSINESS PREMIUM"},
        {"User Principal Name": "old@contoso.com", "Display Name": "Old User", "Is Deleted": "True",
         "Deleted Date": "2026-06-01", "Exchange Last Activity Date": "2026-05-30",
         "Assigned Products": "MICROSOFT 365 BUSINESS PREMIUM"},
        {"User Principal Name": "shared@contoso.com", "Display Name": "Shared", "Assigned Products": ""},
    ]  # fmt: skip
    result = upload("active_users.csv", m365_active_csv(rows))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.rows_loaded == 4 and result.rows_skipped == 1
    facts = warehouse.execute(
        "SELECT product, as_of_date, fact, effective_date, deleted FROM raw.license_facts"
        " ORDER BY product, effective_date NULLS FIRST"
    ).fetchall()
    assert facts == [
        ("MICROSOFT 365 BUSINESS PREMIUM", date(2026, 6, 30), "active", None, False),
        ("MICROSOFT 365 BUSINESS PREMIUM", date(2026, 6, 30), "active", date(2026, 5, 30), True),
        ("MICROSOFT 365 BUSINESS PREMIUM", date(2026, 6, 30), "active", date(2026, 6, 20), False),
        ("MICROSOFT TEAMS PHONE STANDARD", date(2026, 6, 30), "active", date(2026, 6, 20), False),
    ]  # fmt: skip
    # The two Microsoft files join on the hashed user.
    upload("users_2026-06-30.csv", m365_users_csv("A"))
    joined = warehouse.execute(
        "SELECT count(DISTINCT a.user_hash) FROM raw.license_facts a JOIN raw.license_facts u"
        " ON a.user_hash = u.user_hash AND a.fact = 'active' AND u.fact = 'assigned'"
    ).fetchone()[0]
    assert joined == 2


def test_partner_center_purchased_facts(upload, warehouse):
    rows = [
        {},
        {"ChargeType": "addQuantity", "OrderDate": "6/15/2026", "ChargeStartDate": "6/15/2026",
         "BillableQuantity": "12", "Quantity": "2"},
        {"SubscriptionId": "sub-2", "SkuName": "Microsoft 365 E5", "ProductName": "Microsoft 365 E5",
         "EffectiveUnitPrice": "570.00", "PCToBCExchangeRate": "0.92", "BillingFrequency": "Annual",
         "BillableQuantity": "3", "ChargeEndDate": "5/31/2027"},
    ]  # fmt: skip
    result = upload("recon_G012345678.csv", partner_center_csv(rows))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "partner_center_recon v1"
    facts = _facts(warehouse)
    assert [f[:8] + f[9:] for f in facts] == [
        ("partner_center_recon", "m365_tenant", "6f3b1c2a-1111-4222-8333-444455556666", None,
         "Microsoft", "Microsoft 365 Business Premium", date(2026, 6, 1), "purchased",
         Decimal("10"), Decimal("19.8"), None, date(2027, 5, 31), "sub-1", date(2026, 6, 1),
         date(2026, 6, 30), "Monthly", None, "Contoso Dental LLC"),
        ("partner_center_recon", "m365_tenant", "6f3b1c2a-1111-4222-8333-444455556666", None,
         "Microsoft", "Microsoft 365 Business Premium", date(2026, 6, 15), "purchased",
         Decimal("12"), Decimal("19.8"), None, date(2027, 5, 31), "sub-1", date(2026, 6, 15),
         date(2026, 6, 30), "Monthly", None, "Contoso Dental LLC"),
        ("partner_center_recon", "m365_tenant", "6f3b1c2a-1111-4222-8333-444455556666", None,
         "Microsoft", "Microsoft 365 E5", date(2026, 6, 1), "purchased", Decimal("3"),
         Decimal("524.4"), None, date(2027, 5, 31), "sub-2", date(2026, 6, 1),
         date(2027, 5, 31), "Annual", None, "Contoso Dental LLC"),
    ]  # fmt: skip


def test_connectwise_agreement_additions_billed_facts(upload, warehouse):
    additions = [
        cw_addition(1, "ACME", "M365-BP", 12, lessIncluded=2),
        cw_addition(2, "ACME", "BACKUP", 5, cancelledDate="2026-06-15T00:00:00Z"),
        cw_addition(3, "ACME", "M365-BP", 1, billCustomer="NoCharge"),
    ]
    result = upload("additions.json", json.dumps(additions))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "connectwise_agreement_additions v1"
    assert result.rows_skipped == 1
    facts = warehouse.execute(
        "SELECT client_source, client_key, product, fact, quantity, unit_price, unit_cost,"
        " effective_date, cancelled_date FROM raw.license_facts ORDER BY product"
    ).fetchall()
    assert facts == [
        ("connectwise", "ACME", "BACKUP", "billed", Decimal("5"), Decimal("25"),
         Decimal("19.8"), date(2026, 1, 1), date(2026, 6, 15)),
        ("connectwise", "ACME", "M365-BP", "billed", Decimal("10"), Decimal("25"),
         Decimal("19.8"), date(2026, 1, 1), None),
    ]  # fmt: skip


def test_autotask_time_entries_tri_state_billing(upload, warehouse):
    entries = [
        autotask_entry(1),
        autotask_entry(2, isNonBillable=True, showOnInvoice=True, hoursWorked=0.5),
        autotask_entry(3, isNonBillable=True, showOnInvoice=False, billingCodeName="Vacation"),
    ]
    result = upload("at_time.json", json.dumps(entries))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "autotask_time_entries v1"
    rows = warehouse.execute(
        "SELECT entry_id, staff_id, client_source, client_key, work_date, hours, billable,"
        " billing_option, work_type, ticket_id FROM raw.time_entries ORDER BY entry_id"
    ).fetchall()
    assert rows == [
        ("1", "29682885", "autotask", "174", date(2026, 7, 6), Decimal("1.5"), True, "billable",
         "remote_support", "7001"),
        ("2", "29682885", "autotask", "174", date(2026, 7, 6), Decimal("0.5"), False,
         "no_charge", "remote_support", "7001"),
        ("3", "29682885", "autotask", "174", date(2026, 7, 6), Decimal("1.5"), False,
         "do_not_bill", "vacation", "7001"),
    ]  # fmt: skip


def test_autotask_file_of_exactly_5000_rows_warns_it_looks_truncated(upload):
    entries = [autotask_entry(i) for i in range(1, 5001)]
    result = upload("at_time.json", json.dumps(entries))
    assert result.status == "accepted", result.message
    assert any("looks truncated" in n and "5,000" in n for n in result.notes)
    warning = next(p for p in result.problems if "truncated" in p["rule"])
    assert warning["severity"] == "warning" and warning["row"] is None
    assert "smaller date ranges" in warning["fix"] and result.warnings >= 1
    fewer = upload("at_time_2.json", json.dumps(entries[:4999]))
    assert not any("truncated" in n for n in fewer.notes)


def test_autotask_contract_service_units_billed_facts(upload, warehouse):
    rows = [
        {"Id": "1", "ContractID": "30", "ContractServiceID": "88", "ServiceID": "12",
         "StartDate": "2026-06-01", "EndDate": "2026-06-30", "Units": "14", "Price": "25.00",
         "Cost": "19.80", "companyID": "174"},
    ]  # fmt: skip
    result = upload("csu.csv", csv_text(AUTOTASK_CSU_HEADER, rows))
    assert result.status == "accepted", (result.message, result.problems)
    assert result.profile == "autotask_contract_service_units v1"
    assert warehouse.execute(
        "SELECT client_source, client_key, product, fact, quantity, unit_price, effective_date,"
        " cancelled_date FROM raw.license_facts"
    ).fetchall() == [
        (
            "autotask",
            "174",
            "12",
            "billed",
            Decimal("14"),
            Decimal("25"),
            date(2026, 6, 1),
            date(2026, 6, 30),
        )
    ]


def test_halopsa_report_output(upload, warehouse):
    rows = [
        {"Action ID": "5501", "Ticket ID": "1201", "Agent ID": "jtech", "Client": "Acme Dental",
         "Work Date": "2026-07-06", "Hours Worked": "1.25", "Billable": "1",
         "Charge Type": "Remote Support"},
        {"Action ID": "5502", "Ticket ID": "1202", "Agent ID": "jtech", "Client": "Acme Dental",
         "Work Date": "2026-07-07", "Hours Worked": "0.5", "Billable": "0", "Charge Type": ""},
    ]  # fmt: skip
    result = upload("halo_time.csv", csv_text(HALO_HEADER, rows))
    assert result.status == "accepted", (result.message, result.problems)
    assert warehouse.execute(
        "SELECT entry_id, staff_id, client_source, client_key, hours, billable, billing_option"
        " FROM raw.time_entries ORDER BY entry_id"
    ).fetchall() == [
        ("halo-5501", "jtech", "halopsa", "Acme Dental", Decimal("1.25"), True, "billable"),
        ("halo-5502", "jtech", "halopsa", "Acme Dental", Decimal("0.5"), False, "do_not_bill"),
    ]
