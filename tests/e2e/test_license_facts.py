"""License rows assembled from vendor exports, end to end (vendor-exports spec, "Licenses
assembled from facts" and "Never counted twice"): the vendors' own files, built from their
documented headers, go through the real ingest, dbt and trust layer of one pipeline run.

Contoso Dental in June 2025: Partner Center bills 10 seats of Microsoft 365 Business Premium
monthly at 19.80 and 2 on an annual plan at 240.00 (20.00 a month); the user export of 30 June
assigns it to three users (one blocked); the usage report of 28 June saw one user 30 days
before (active), one 31 days before (not) and one deleted; ConnectWise bills the client 2
seats at 25.00. A 238.00 bill from Microsoft Ireland Operations Ltd that month is the same
seats again and is left out of cost; a stationery bill stays.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, build_home

from tests.integration.sources.vendor_files import (
    cw_addition,
    m365_active_csv,
    m365_users_csv,
    partner_center_csv,
)

pytestmark = pytest.mark.usefixtures("dbt_manifest")

BP = "Microsoft 365 Business Premium"


def _write_exports(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "clients.csv").write_text("client_id,client_name\nC001,Contoso Dental\n")
    (folder / "client_aliases.csv").write_text(
        "source,source_key,client_id\nm365_domain,contoso.com,C001\nconnectwise,CONTOSO,C001\n"
    )
    (folder / "product_map.csv").write_text(
        f"source,source_product,vendor,product,category\nconnectwise,M365BP,Microsoft,{BP},license\n"
    )
    (folder / "expenses.csv").write_text(
        "expense_id,client_id,expense_date,amount,category,supplier\n"
        "X1,C001,2025-06-15,238.00,software,Microsoft Ireland Operations Ltd\n"
        "X2,C001,2025-06-16,50.00,office,Staples\n"
        # July's books: the files reach July, so the annual seats get a July row too.
        "X3,,2025-07-10,900.00,rent,Harbour Properties\n"
    )
    # No alias names the tenant: CustomerName "Contoso Dental LLC" matches the client.
    (folder / "partner_center_recon_2025-06.csv").write_text(
        partner_center_csv(
            [
                {"OrderDate": "6/1/2025", "ChargeStartDate": "6/1/2025",
                 "ChargeEndDate": "6/30/2025", "SubscriptionStartDate": "6/1/2025",
                 "SubscriptionEndDate": "5/31/2026"},
                {"SubscriptionId": "sub-2", "OrderDate": "6/1/2025", "BillableQuantity": "2",
                 "Quantity": "2", "EffectiveUnitPrice": "240.00", "BillingFrequency": "Annual",
                 "TermAndBillingCycle": "One-Year commitment for annual billing",
                 "ChargeStartDate": "6/1/2025", "ChargeEndDate": "5/31/2026",
                 "SubscriptionStartDate": "6/1/2025", "SubscriptionEndDate": "5/31/2026"},
            ]
        )
    )  # fmt: skip
    users = [
        ("Adele Vance", "AdeleV@contoso.com", f"{BP}+Microsoft Teams Phone Standard", "False"),
        ("Alex Wilber", "AlexW@contoso.com", BP, "True"),
        ("Diego Siciliani", "DiegoS@contoso.com", BP, "False"),
        ("Admin", "admin@contoso.com", "Unlicensed", "False"),
    ]
    (folder / "m365_users_2025-06-30.csv").write_text(m365_users_csv("A", users))
    product = BP.upper()
    (folder / "m365_active_users.csv").write_text(
        m365_active_csv(
            [
                {"Report Refresh Date": "2025-06-28", "User Principal Name": "AdeleV@contoso.com",
                 "Exchange Last Activity Date": "2025-05-29", "Assigned Products": product},
                {"Report Refresh Date": "2025-06-28", "User Principal Name": "AlexW@contoso.com",
                 "Teams Last Activity Date": "2025-05-28", "Assigned Products": product},
                {"Report Refresh Date": "2025-06-28", "User Principal Name": "DiegoS@contoso.com",
                 "Is Deleted": "True", "Exchange Last Activity Date": "2025-06-20",
                 "Assigned Products": product},
            ]
        )
    )  # fmt: skip
    (folder / "agreement_additions.json").write_text(
        json.dumps([cw_addition(1, "CONTOSO", "M365BP", 2, effectiveDate="2025-01-01T00:00:00Z")])
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltHome:
    root = tmp_path_factory.mktemp("license_facts")
    _write_exports(root / "files")
    return build_home(root / "home", root / "files", pattern="*.*")


def _rows(built: BuiltHome, sql: str) -> list[dict]:
    with duckdb.connect(str(built.snapshot), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_license_row_assembled_from_the_vendor_exports(built: BuiltHome) -> None:
    rows = _rows(
        built,
        "SELECT * FROM marts.license_utilization WHERE client_id = 'C001' ORDER BY month, product",
    )
    # Teams Phone: assigned to one user, bought elsewhere (no Partner Center charge row).
    teams = [r for r in rows if r["product"] != BP]
    assert [(str(r["month"]), r["seats_assigned"], r["seats_purchased"]) for r in teams] == [
        ("2025-06-01", 1, 0)
    ]
    rows = [r for r in rows if r["product"] == BP]
    june = rows[0]
    assert (june["vendor"], june["product"], str(june["month"])) == ("Microsoft", BP, "2025-06-01")
    assert june["license_source"] == "license_facts"
    assert june["missing_facts"] == ""
    seats = [june[c] for c in ("seats_purchased", "seats_assigned", "seats_active", "seats_billed")]
    assert seats == [12, 3, 1, 2]
    # (10 x 19.80 + 2 x 240.00 / 12) / 12 = 19.8333; 11 unused seats x 19.8333 = 218.17
    assert june["unit_cost"] == Decimal("19.83")
    assert june["unit_price"] == Decimal("25.00")
    assert (june["unused_seats"], june["monthly_waste"]) == (11, Decimal("218.17"))
    assert (june["unbilled_seats"], june["monthly_leakage"]) == (1, Decimal("25.00"))
    assert june["recommendation"] == "bill_client"
    assert "no usage" not in june["explanation"]
    # July: the annual seats are still in force and billed, but no export says who holds or
    # uses them.
    july = rows[1]
    assert str(july["month"]) == "2025-07-01"
    assert [july["seats_purchased"], july["seats_assigned"], july["seats_active"]] == [
        2,
        None,
        None,
    ]
    assert july["unit_cost"] == Decimal("20.00")
    assert july["missing_facts"] == "assigned,active"
    assert "no usage (active) fact: M365 active users report not uploaded" in july["explanation"]
    assert "no assignment (assigned) fact" in july["explanation"]
    assert july["confidence_cost_completeness"] < june["confidence_cost_completeness"]
    # The annual term runs to May 2026, but no file reaches past July: no rows after it.
    assert len(rows) == 2


def test_microsoft_bill_left_out_of_cost_and_listed(built: BuiltHome) -> None:
    (june,) = _rows(
        built,
        "SELECT * FROM marts.client_profitability"
        " WHERE client_id = 'C001' AND month = DATE '2025-06-01'",
    )
    assert june["other_cost"] == Decimal("50.00")  # the stationery bill only
    assert june["license_cost"] == Decimal("238.00")  # 12 seats x 19.8333
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as con:
        excluded = con.execute(
            "SELECT expense_id, license_bill_kind, left_out_reason"
            " FROM intermediate.int_expenses_excluded"
        ).fetchall()
    assert excluded == [
        (
            "X1",
            "license_supplier",
            "license supplier (MOATMETRICS_LICENSE_SUPPLIERS); license facts carry the"
            " client's seat cost this month",
        )
    ]
