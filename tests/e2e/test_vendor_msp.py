# ruff: noqa: E501  (the MSP's rows are kept one per line, as tables)
"""One small MSP, twice: once in the files its systems export, once in our canonical files. The
marts must be the same to the cent (vendor-exports spec, acceptance of issue 13).

Ridgeline IT has three clients and two technicians over May and June 2025. Its vendor files:
ConnectWise time entries and agreement additions (REST JSON), two Microsoft 365 user exports
of Contoso's tenant (one in each header layout, dated with `ingest --as-of`), two usage
reports, two Partner Center reconciliation files, Xero invoices (or, in the second variant, a
QuickBooks Sales by Customer Detail report) and Xero bills; plus the canonical clients and
staff and the three mapping files. Every vendor file is detected without `--source`.

The canonical twin says the same in contract files: time entries with client ids and local
work dates, invoice lines with categories, one license row per product and month, and the
expenses (Microsoft's bill among them: in both, that bill is left out of cost because the
license rows carry those seats' cost; never counted twice).

The marts are compared column by column, every dbt mart column except the two that say where
a license row came from (`license_source`, `missing_facts`).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from moatmetrics.cli import main
from moatmetrics.marts import DBT_MARTS
from moatmetrics.settings import DBT_PROJECT_DIR, Settings, ensure_home, get_settings
from tests.integration.sources.vendor_files import (
    csv_text,
    cw_addition,
    cw_entry,
    cw_json,
    m365_active_csv,
    m365_users_csv,
    partner_center_csv,
    xero_csv,
    xero_line,
)

pytestmark = pytest.mark.usefixtures("dbt_manifest")

BP = "Microsoft 365 Business Premium"
BB = "Microsoft 365 Business Basic"
#: Columns that say where a license row came from, not what it says.
PROVENANCE = {"license_source", "missing_facts"}

# ------------------------------------------------------------------------ shared by both

CLIENTS = """client_id,client_name,status,contract_type,monthly_contract_value
C001,Contoso Dental,active,managed,1200
C002,Fabrikam Legal,active,project,
C003,Northwind Traders,active,managed,800
"""
STAFF = """staff_id,staff_name,role,hourly_cost,weekly_hours,billable_target
jtech,Jane Tech,Engineer,45,40,0.75
bsmith,Bob Smith,Engineer,50,40,0.75
"""

# ------------------------------------------------------------------------------ vendor side

ALIASES = """source,source_key,client_id
connectwise,CONTOSO,C001
connectwise,FABRIKAM,C002
connectwise,NORTHWIND,C003
m365_domain,contoso.com,C001
xero,Northwind,C003
qbo,Northwind,C003
"""
PRODUCT_MAP = f"""source,source_product,vendor,product,category
connectwise,M365BP,Microsoft,{BP},license
connectwise,M365BB,Microsoft,{BB},license
"""
ACCOUNT_MAP = """source,account,category
xero,200,recurring
xero,210,project
xero,220,license
xero,300,hardware
qbo,Managed Services,recurring
qbo,Project Work,project
qbo,M365 Business Premium,license
qbo,M365 Business Basic,license
qbo,Hardware,hardware
"""

# (id, company, member, UTC start, hours, billable option, work type, charge to)
TIME = [
    (101, "CONTOSO", "jtech", "2025-05-06T14:00:00Z", 2.0, "Billable", "Remote Support", "ServiceTicket"),
    (102, "CONTOSO", "bsmith", "2025-05-07T15:00:00Z", 1.5, "DoNotBill", "Remote Support", "ServiceTicket"),
    (103, "FABRIKAM", "jtech", "2025-05-12T16:00:00Z", 3.0, "Billable", "Project", "ProjectTicket"),
    (104, "NORTHWIND", "bsmith", "2025-05-20T13:00:00Z", 4.0, "NoCharge", "Onsite", "ServiceTicket"),
    (105, "RIDGELINE", "jtech", "2025-05-21T09:00:00Z", 1.0, "DoNotBill", "Admin", "ChargeCode"),
    (106, "RIDGELINE", "jtech", "2025-06-02T08:00:00Z", 8.0, "DoNotBill", "Vacation", "ChargeCode"),
    (107, "CONTOSO", "jtech", "2025-06-03T14:30:00Z", 2.5, "Billable", "Remote Support", "ServiceTicket"),
    (108, "FABRIKAM", "bsmith", "2025-06-10T17:00:00Z", 5.0, "Billable", "Project", "ProjectTicket"),
    (109, "NORTHWIND", "jtech", "2025-06-17T12:00:00Z", 1.25, "Billable", "Remote Support", "ServiceTicket"),
    (110, "CONTOSO", "bsmith", "2025-06-24T19:45:00Z", 0.75, "NoCharge", "Remote Support", "ServiceTicket"),
]  # fmt: skip
RATE = 150.0

ADDITIONS = [
    cw_addition(1, "CONTOSO", "M365BP", 10, unitPrice=25.0, effectiveDate="2025-05-01T00:00:00Z"),
    cw_addition(2, "CONTOSO", "M365BB", 1, unitPrice=8.0, effectiveDate="2025-06-01T00:00:00Z"),
]

CONTOSO_TENANT = {"CustomerName": "Contoso Dental LLC"}


def _pc_month(month: int, bp_seats: int) -> str:
    """Partner Center's reconciliation file of a month: Business Premium billed monthly; in
    May also Business Basic on an annual plan (72.00 for the year, 6.00 a month), charged once
    for the year, so it is in May's file only."""
    start, end = f"{month}/1/2025", f"{month}/{31 if month == 5 else 30}/2025"
    rows = [
        {**CONTOSO_TENANT, "OrderDate": start, "ChargeStartDate": start, "ChargeEndDate": end,
         "SubscriptionStartDate": "5/1/2025", "SubscriptionEndDate": "4/30/2026",
         "Quantity": str(bp_seats), "BillableQuantity": str(bp_seats),
         "EffectiveUnitPrice": "20.00"},
    ]  # fmt: skip
    if month == 5:
        rows.append(
            {**CONTOSO_TENANT, "SubscriptionId": "sub-2", "OrderDate": "5/1/2025",
             "SkuName": BB, "ProductName": BB, "ProductId": "CFQ7TTC0LH18",
             "Quantity": "2", "BillableQuantity": "2", "EffectiveUnitPrice": "72.00",
             "BillingFrequency": "Annual",
             "TermAndBillingCycle": "One-Year commitment for annual billing",
             "ChargeStartDate": "5/1/2025", "ChargeEndDate": "4/30/2026",
             "SubscriptionStartDate": "5/1/2025", "SubscriptionEndDate": "4/30/2026"}
        )  # fmt: skip
    return partner_center_csv(rows)


BOTH = f"{BP}+{BB}"
MAY_USERS = [
    ("Adele Vance", "AdeleV@contoso.com", BP, "False"),
    ("Alex Wilber", "AlexW@contoso.com", BP, "False"),
    ("Diego Siciliani", "DiegoS@contoso.com", BP, "False"),
    ("Megan Bowen", "MeganB@contoso.com", BOTH, "False"),
    ("Admin", "admin@contoso.com", "Unlicensed", "False"),
]
JUNE_USERS = [
    ("Adele Vance", "AdeleV@contoso.com", BP, "False"),
    ("Alex Wilber", "AlexW@contoso.com", BP, "False"),
    ("Megan Bowen", "MeganB@contoso.com", BOTH, "False"),
    ("Lee Gu", "LeeG@contoso.com", BP, "False"),
    ("Admin", "admin@contoso.com", "Unlicensed", "False"),
]


def _usage(refresh: str, last_activity: dict[str, str]) -> str:
    both = f"{BP.upper()}+{BB.upper()}"
    return m365_active_csv(
        [
            {"Report Refresh Date": refresh, "User Principal Name": upn,
             "Exchange Last Activity Date": day,
             "Assigned Products": both if upn.startswith("Megan") else BP.upper()}
            for upn, day in last_activity.items()
        ]
    )  # fmt: skip


# May: refreshed 30 May, Diego last seen 1 April (not active). June: refreshed 28 June, Alex
# last seen 20 May (39 days: not active), Megan 1 June (27 days: active).
MAY_USAGE = _usage(
    "2025-05-30",
    {"AdeleV@contoso.com": "2025-05-29", "AlexW@contoso.com": "2025-05-10",
     "DiegoS@contoso.com": "2025-04-01", "MeganB@contoso.com": "2025-05-20"},
)  # fmt: skip
JUNE_USAGE = _usage(
    "2025-06-28",
    {"AdeleV@contoso.com": "2025-06-27", "AlexW@contoso.com": "2025-05-20",
     "MeganB@contoso.com": "2025-06-01", "LeeG@contoso.com": "2025-06-25"},
)  # fmt: skip

# Invoice lines: (number, contact, date, item, quantity, unit amount, account, type, status)
INVOICE_LINES = [
    ("INV-1001", "Contoso Dental LLC", "2025-05-31", "Managed Services", 1, "1200.00", "200", "Sales invoice", "Paid"),
    ("INV-1001", "Contoso Dental LLC", "2025-05-31", "M365 Business Premium", 10, "25.00", "220", "Sales invoice", "Paid"),
    ("INV-1002", "Fabrikam Legal", "2025-05-31", "Project Work", 3, "165.00", "210", "Sales invoice", "Paid"),
    ("INV-1003", "Northwind", "2025-05-31", "Managed Services", 1, "800.00", "200", "Sales invoice", "Paid"),
    ("CN-1004", "Contoso Dental LLC", "2025-06-15", "Managed Services", 1, "50.00", "200", "Sales credit note", "Paid"),
    ("INV-1005", "Contoso Dental LLC", "2025-06-30", "Managed Services", 1, "1200.00", "200", "Sales invoice", "Awaiting Payment"),
    ("INV-1005", "Contoso Dental LLC", "2025-06-30", "M365 Business Premium", 10, "25.00", "220", "Sales invoice", "Awaiting Payment"),
    ("INV-1005", "Contoso Dental LLC", "2025-06-30", "M365 Business Basic", 1, "8.00", "220", "Sales invoice", "Awaiting Payment"),
    ("INV-1006", "Fabrikam Legal", "2025-06-30", "Project Work", 5, "150.00", "210", "Sales invoice", "Awaiting Payment"),
    ("INV-1006", "Fabrikam Legal", "2025-06-30", "Hardware", 1, "499.99", "300", "Sales invoice", "Awaiting Payment"),
    ("INV-1007", "Northwind", "2025-06-30", "Managed Services", 1, "800.00", "200", "Sales invoice", "Awaiting Payment"),
]  # fmt: skip

# Bills: (number, supplier, date, amount, account, client tracking option or None)
BILLS = [
    ("B-1", "Microsoft Ireland Operations Ltd", "2025-05-31", "212.00", "463", "Contoso Dental"),
    ("B-2", "Staples", "2025-05-15", "45.50", "429", "Fabrikam Legal"),
    ("B-3", "Dell Inc", "2025-06-12", "899.99", "300", "Northwind"),
    ("B-4", "Harbour Properties", "2025-06-01", "1500.00", "469", None),
]
CLIENT_OF = {"Contoso Dental LLC": "C001", "Contoso Dental": "C001", "Fabrikam Legal": "C002",
             "Northwind": "C003"}  # fmt: skip
CATEGORY_OF = {"200": "recurring", "210": "project", "220": "license", "300": "hardware"}


def _xero_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _us_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{month}/{day}/{year}"


def _xero_invoices() -> str:
    lines = []
    for number, contact, day, item, qty, unit, account, kind, status in INVOICE_LINES:
        amount = f"{qty * Decimal(unit):.2f}"
        total = sum(q * Decimal(u) for n, _, _, _, q, u, *_ in INVOICE_LINES if n == number)
        lines.append(
            xero_line(
                ContactName=contact, InvoiceNumber=number, InvoiceDate=_xero_date(day),
                DueDate=_xero_date("2025-07-31"), Total=f"{total:.2f}", TaxTotal="0.00",
                InventoryItemCode=item, Description=item, Quantity=str(qty), UnitAmount=unit,
                LineAmount=amount, AccountCode=account, Type=kind, Status=status,
                TaxType="Tax Exempt",
            )
        )  # fmt: skip
    return xero_csv(lines)


def _xero_bills() -> str:
    lines = []
    for number, supplier, day, amount, account, client in BILLS:
        lines.append(
            xero_line(
                ContactName=supplier, InvoiceNumber=number, InvoiceDate=_xero_date(day),
                DueDate=_xero_date(day), Total=amount, TaxTotal="0.00", Description="Bill",
                Quantity="1", UnitAmount=amount, LineAmount=amount, AccountCode=account,
                TrackingName1="Client" if client else "", TrackingOption1=client or "",
                Type="Bill", Status="Paid", TaxType="Tax Exempt",
            )
        )  # fmt: skip
    return xero_csv(lines)


def _qbo_money(value: Decimal) -> str:
    text = f"{abs(value):,.2f}"
    return f"-${text}" if value < 0 else f"${text}"


QBO_NAME = {"Contoso Dental LLC": "Contoso Dental, PC", "Fabrikam Legal": "Fabrikam Legal:Main Office",
            "Northwind": "Northwind"}  # fmt: skip


def _qbo_sales_by_customer_detail() -> str:
    """The classic layout: title block, a group row per customer, its transactions (credit
    memos negative), a `Total for` row, the report's TOTAL and the basis line."""
    out = [
        "Sales by Customer Detail",
        "Ridgeline IT",
        "May - June, 2025",
        "",
        ",Date,Transaction Type,Num,Product/Service,Memo/Description,Qty,Sales Price,Amount,Balance",
    ]
    grand = Decimal(0)
    for contact in ("Contoso Dental LLC", "Fabrikam Legal", "Northwind"):
        name = QBO_NAME[contact]
        out.append(f'"{name}",,,,,,,,,')
        balance = Decimal(0)
        for number, who, day, item, qty, unit, _, kind, _ in INVOICE_LINES:
            if who != contact:
                continue
            sign = -1 if kind == "Sales credit note" else 1
            amount = sign * qty * Decimal(unit)
            balance += amount
            kind_name = "Credit Memo" if sign < 0 else "Invoice"
            out.append(
                f",{_us_date(day)},{kind_name},{number.split('-')[1]},{item},{item},"
                f'{sign * qty},"{sign * Decimal(unit):,.2f}","{_qbo_money(amount)}","{balance:,.2f}"'
            )
        out.append(f'"Total for {name}",,,,,,,,"{_qbo_money(balance)}",')
        grand += balance
    out += [f'TOTAL,,,,,,,,"{_qbo_money(grand)}",', "", "",
            "Accrual Basis Monday, July 7, 2025 09:12 AM GMT-07:00", ""]  # fmt: skip
    return "\n".join(out)


def _write_vendor_files(folder: Path, invoices: str) -> dict[str, str]:
    """The vendor files in `folder`; returns the M365 user exports' --as-of dates."""
    folder.mkdir(parents=True)
    files = {
        "clients.csv": CLIENTS,
        "staff.csv": STAFF,
        "client_aliases.csv": ALIASES,
        "product_map.csv": PRODUCT_MAP,
        "account_map.csv": ACCOUNT_MAP,
        "time_entries_export.json": cw_json(
            [
                cw_entry(i, company, member, start, hours, option, work_type, charge, RATE)
                for i, company, member, start, hours, option, work_type, charge in TIME
            ]
        ),
        "agreement_additions.json": json.dumps(ADDITIONS),
        "recon_may.csv": _pc_month(5, 10),
        "recon_june.csv": _pc_month(6, 12),
        "ActiveUsers_may.csv": MAY_USAGE,
        "ActiveUsers_june.csv": JUNE_USAGE,
        "bills.csv": _xero_bills(),
        "sales.csv": invoices,
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "users" / "may").mkdir(parents=True)
    (folder / "users" / "june").mkdir(parents=True)
    (folder / "users" / "may" / "users.csv").write_text(m365_users_csv("A", MAY_USERS))
    (folder / "users" / "june" / "users.csv").write_text(m365_users_csv("B", JUNE_USERS))
    return {"may": "2025-05-31", "june": "2025-06-30"}


# --------------------------------------------------------------------------- canonical side


def _canonical_time_entries() -> str:
    header = ["entry_id", "staff_id", "client_id", "work_date", "hours", "billable",
              "billing_option", "work_type", "ticket_id", "bill_rate"]  # fmt: skip
    client = {"CONTOSO": "C001", "FABRIKAM": "C002", "NORTHWIND": "C003"}
    option = {"Billable": "billable", "DoNotBill": "do_not_bill", "NoCharge": "no_charge"}
    rows = [
        {"entry_id": i, "staff_id": member,
         "client_id": "" if charge == "ChargeCode" else client[company],
         "work_date": start[:10], "hours": hours, "billable": str(kind == "Billable").lower(),
         "billing_option": option[kind], "work_type": work_type,
         "ticket_id": "" if charge == "ChargeCode" else 4100 + i, "bill_rate": RATE}
        for i, company, member, start, hours, kind, work_type, charge in TIME
    ]  # fmt: skip
    return csv_text(header, rows)


def _canonical_invoices() -> str:
    header = ["invoice_id", "line_no", "client_id", "invoice_date", "status", "category", "sku",
              "quantity", "unit_price", "amount"]  # fmt: skip
    rows, line_no = [], {}
    for number, contact, day, item, qty, unit, account, kind, _ in INVOICE_LINES:
        line_no[number] = line_no.get(number, 0) + 1
        sign = -1 if kind == "Sales credit note" else 1
        rows.append(
            {"invoice_id": number, "line_no": line_no[number], "client_id": CLIENT_OF[contact],
             "invoice_date": day, "status": "sent", "category": CATEGORY_OF[account],
             "sku": item, "quantity": sign * qty, "unit_price": unit,
             "amount": f"{sign * qty * Decimal(unit):.2f}"}
        )  # fmt: skip
    return csv_text(header, rows)


CANONICAL_LICENSES = f"""client_id,vendor,product,sku,snapshot_date,seats_purchased,seats_assigned,seats_active,seats_billed,unit_cost,unit_price,term_end_date
C001,Microsoft,{BP},SPB,2025-05-31,10,4,3,10,20.00,25.00,2026-04-30
C001,Microsoft,{BB},O365_BUSINESS_ESSENTIALS,2025-05-31,2,1,1,0,6.00,,2026-04-30
C001,Microsoft,{BP},SPB,2025-06-30,12,4,3,10,20.00,25.00,2026-04-30
C001,Microsoft,{BB},O365_BUSINESS_ESSENTIALS,2025-06-30,2,1,1,1,6.00,8.00,2026-04-30
"""
# Microsoft's bill (B-1) is the seats of the license rows again: left out of cost here too.
CANONICAL_EXPENSES = """expense_id,client_id,expense_date,amount,category,supplier
B-1,C001,2025-05-31,212.00,463,Microsoft Ireland Operations Ltd
B-2,C002,2025-05-15,45.50,429,Staples
B-3,C003,2025-06-12,899.99,300,Dell Inc
B-4,,2025-06-01,1500.00,469,Harbour Properties
"""


def _write_canonical_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, text in {
        "clients.csv": CLIENTS,
        "staff.csv": STAFF,
        "time_entries.csv": _canonical_time_entries(),
        "invoices.csv": _canonical_invoices(),
        "licenses.csv": CANONICAL_LICENSES,
        "expenses.csv": CANONICAL_EXPENSES,
    }.items():
        (folder / name).write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- the homes


def _run(home: Path, files: Path, cli_ingests: list[list[str]]) -> tuple[Settings, Path, str]:
    """In a fresh home: each `cli_ingests` entry through `moatmetrics ingest`, every other
    file through the landing folder, then one real pipeline run that must publish. Returns the
    settings, the snapshot and the run's summary."""
    from orchestration.pipeline import run_pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(home))
        patch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
        settings = get_settings()
        ensure_home(settings)
        for argv in cli_ingests:
            assert main(["ingest", *argv]) == 0, argv
        for path in files.glob("*.*"):
            shutil.copy(path, settings.landing_dir / path.name)
        outcome = run_pipeline(settings)
    assert outcome.success and outcome.published and outcome.published.path, outcome.summary()
    return settings, outcome.published.path, outcome.summary()


def _vendor_home(root: Path, invoices: str) -> tuple[Settings, Path, str]:
    files = root / "files"
    as_of = _write_vendor_files(files, invoices)
    users = [
        ["--as-of", day, str(files / "users" / month / "users.csv")] for month, day in as_of.items()
    ]
    return _run(root / "home", files, users)


@pytest.fixture(scope="module")
def canonical_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, str]:
    root = tmp_path_factory.mktemp("canonical_msp")
    _write_canonical_files(root / "files")
    return _run(root / "home", root / "files", [])


@pytest.fixture(scope="module")
def canonical(canonical_home: tuple[Settings, Path, str]) -> Path:
    return canonical_home[1]


@pytest.fixture(scope="module")
def xero(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, str]:
    return _vendor_home(tmp_path_factory.mktemp("xero_msp"), _xero_invoices())


@pytest.fixture(scope="module")
def quickbooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, str]:
    return _vendor_home(tmp_path_factory.mktemp("qbo_msp"), _qbo_sales_by_customer_detail())


def _mart_rows(snapshot: Path) -> dict[str, list[dict]]:
    import yaml

    marts_yml = DBT_PROJECT_DIR / "models/marts/_marts__models.yml"
    models = yaml.safe_load(marts_yml.read_text())["models"]
    columns = {m["name"]: [c["name"] for c in m["columns"]] for m in models}
    marts: dict[str, list[dict]] = {}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        for mart in DBT_MARTS:
            names = [c for c in columns[mart] if c not in PROVENANCE]
            quoted = ", ".join(f'"{c}"' for c in names)
            cursor = con.execute(f"SELECT {quoted} FROM marts.{mart} ORDER BY ALL")
            marts[mart] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return marts


def _assert_same_marts(vendor: Path, canonical: Path) -> None:
    got, want = _mart_rows(vendor), _mart_rows(canonical)
    for mart in DBT_MARTS:
        assert got[mart], f"{mart} is empty"
        assert len(got[mart]) == len(want[mart]), mart
        for vendor_row, canonical_row in zip(got[mart], want[mart], strict=True):
            assert vendor_row == canonical_row, mart


#: The profile that read each vendor file, and how many files (every one detected without
#: --source); the invoices' profile is the variant's.
PROFILES = {
    "connectwise_time_entries": 1, "connectwise_agreement_additions": 1, "m365_users": 2,
    "m365_active_users": 2, "partner_center_recon": 2, "xero_bills": 1,
}  # fmt: skip


def _assert_twin(home: tuple[Settings, Path, str], canonical: Path, invoices: str) -> None:
    settings, snapshot, summary = home
    _assert_same_marts(snapshot, canonical)
    # Nothing was held for want of a client and every account was mapped.
    assert "held:" not in summary and "unmapped account" not in summary, summary
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        used = con.execute("SELECT profile, count(*) FROM ingest.upload_sources GROUP BY 1")
        assert dict(used.fetchall()) == {**PROFILES, invoices: 1}


def test_the_msp_in_connectwise_microsoft_and_xero_files_equals_its_canonical_twin(
    xero: tuple[Settings, Path, str], canonical: Path
) -> None:
    _assert_twin(xero, canonical, "xero_invoices")


def test_the_same_msp_with_quickbooks_invoices_equals_its_canonical_twin(
    quickbooks: tuple[Settings, Path, str], canonical: Path
) -> None:
    _assert_twin(quickbooks, canonical, "qbo_sales_by_customer_detail")


def test_microsofts_bill_is_left_out_of_contosos_cost_and_listed(
    xero: tuple[Settings, Path, str],
) -> None:
    _, snapshot, summary = xero
    assert "left out of cost: expense 'B-1/" in summary
    assert (
        "(Microsoft Ireland Operations Ltd, 2025-05-31, 212.00) of C001: license supplier"
        " (MOATMETRICS_LICENSE_SUPPLIERS); license facts carry the client's seat cost this month"
    ) in summary
    with duckdb.connect(str(snapshot), read_only=True) as con:
        may = con.execute(
            "SELECT license_cost, other_cost FROM marts.client_profitability"
            " WHERE client_id = 'C001' AND month = DATE '2025-05-01'"
        ).fetchone()
    # 10 x 20.00 + 2 x 72.00 / 12: the seats' cost, once; the 212.00 bill is not other cost.
    assert may == (Decimal("212.00"), Decimal("0.00"))


def _evidence_counts(settings: Settings) -> dict[str, list[tuple]]:
    """The input rows the trust layer counted behind each mart row (dbt's evidence models)."""
    from moatmetrics.trust import evidence

    columns = {
        "client_profitability": "client_id, month, input_rows",
        "staff_utilization": "staff_id, month, input_rows, logged_days, absence_days",
    }
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            mart: con.execute(
                f"SELECT {wanted} FROM {evidence.table(mart)} ORDER BY ALL"
            ).fetchall()
            for mart, wanted in columns.items()
        }


def test_confidence_rests_on_the_same_input_rows_in_vendor_files_as_in_canonical_ones(
    xero: tuple[Settings, Path, str], canonical_home: tuple[Settings, Path, str]
) -> None:
    """ConnectWise's time entries name clients by company key and absence in its own words:
    the trust layer counts them under the client the alias names and by the absence work
    types, as the marts do, so each client-month and staff-month rests on as many rows as its
    canonical twin (counted from raw, before aliases, the vendor's months had none)."""
    got, want = _evidence_counts(xero[0]), _evidence_counts(canonical_home[0])
    assert got == want
    assert all(rows > 0 for _, _, rows in got["client_profitability"])
