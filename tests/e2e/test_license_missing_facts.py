"""License rows assembled with each vendor fact missing in turn, end to end (vendor-exports
spec, "Licenses assembled from facts"): a missing fact is null, named in missing_facts and in
the explanation, and lowers the row's confidence through its cost-completeness factor.

Four clients hold 5 seats of Microsoft 365 Business Premium in June 2025; each lacks one
export: Alder Dental has no Partner Center charge (purchased), Birch Law no user export
(assigned), Cedar Clinic no usage report (active), Dogwood Realty no PSA addition (billed).
One pipeline run over the vendors' own files (built from their documented headers).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, build_home

from moatmetrics.trust.confidence import MISSING_FACT_FACTOR
from moatmetrics.trust.utilization_explanations import MISSING_FACT_PHRASES
from tests.integration.sources.vendor_files import (
    cw_addition,
    m365_active_csv,
    m365_users_csv,
    partner_center_csv,
)

pytestmark = pytest.mark.usefixtures("dbt_manifest")

BP = "Microsoft 365 Business Premium"
CLIENTS = {  # id: (name, domain, ConnectWise identifier, the fact it lacks)
    "CA": ("Alder Dental", "alder.com", "ALDER", "purchased"),
    "CB": ("Birch Law", "birch.com", "BIRCH", "assigned"),
    "CC": ("Cedar Clinic", "cedar.com", "CEDAR", "active"),
    "CD": ("Dogwood Realty", "dogwood.com", "DOGWOOD", "billed"),
}


def _has(client_id: str, fact: str) -> bool:
    return CLIENTS[client_id][3] != fact


def _write_exports(folder: Path) -> None:
    folder.mkdir(parents=True)
    clients = "".join(f"{cid},{name}\n" for cid, (name, *_) in CLIENTS.items())
    (folder / "clients.csv").write_text("client_id,client_name\n" + clients)
    aliases = "".join(
        f"m365_domain,{domain},{cid}\nconnectwise,{key},{cid}\n"
        for cid, (_, domain, key, _) in CLIENTS.items()
    )
    (folder / "client_aliases.csv").write_text("source,source_key,client_id\n" + aliases)
    (folder / "product_map.csv").write_text(
        f"source,source_product,vendor,product,category\nconnectwise,M365BP,Microsoft,{BP},license\n"
    )
    charges = [
        {"CustomerName": name, "CustomerId": f"00000000-0000-4000-8000-00000000000{n}",
         "SubscriptionId": f"sub-{cid}", "OrderDate": "6/1/2025", "ChargeStartDate": "6/1/2025",
         "ChargeEndDate": "6/30/2025", "SubscriptionStartDate": "6/1/2025",
         "SubscriptionEndDate": "5/31/2026", "Quantity": "5", "BillableQuantity": "5",
         "EffectiveUnitPrice": "20.00"}
        for n, (cid, (name, *_)) in enumerate(CLIENTS.items())
        if _has(cid, "purchased")
    ]  # fmt: skip
    (folder / "partner_center_recon_2025-06.csv").write_text(partner_center_csv(charges))
    users = [
        (f"User {i}", f"user{i}@{domain}", BP, "False")
        for cid, (_, domain, *_) in CLIENTS.items()
        if _has(cid, "assigned")
        for i in (1, 2)
    ]
    (folder / "m365_users_2025-06-30.csv").write_text(m365_users_csv("A", users))
    usage = [
        {"Report Refresh Date": "2025-06-28", "User Principal Name": f"user{i}@{domain}",
         "Exchange Last Activity Date": "2025-06-20", "Assigned Products": BP.upper()}
        for cid, (_, domain, *_) in CLIENTS.items()
        if _has(cid, "active")
        for i in (1, 2)
    ]  # fmt: skip
    (folder / "m365_active_users.csv").write_text(m365_active_csv(usage))
    additions = [
        cw_addition(n, key, "M365BP", 5, effectiveDate="2025-06-01T00:00:00Z")
        for n, (cid, (_, _, key, _)) in enumerate(CLIENTS.items(), start=1)
        if _has(cid, "billed")
    ]
    (folder / "agreement_additions.json").write_text(json.dumps(additions))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("license_missing_facts")
    _write_exports(root / "files")
    built: BuiltHome = build_home(root / "home", root / "files", pattern="*.*")
    with duckdb.connect(str(built.snapshot), read_only=True) as con:
        cursor = con.execute("SELECT * FROM marts.license_utilization ORDER BY client_id")
        names = [d[0] for d in cursor.description]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["client_id"]: row for row in found}


COLUMN_OF = {
    "purchased": "seats_purchased",
    "assigned": "seats_assigned",
    "active": "seats_active",
    "billed": "seats_billed",
}


@pytest.mark.parametrize("client_id", list(CLIENTS))
def test_each_missing_fact_is_null_named_and_lowers_confidence(
    rows: dict[str, dict], client_id: str
) -> None:
    missing = CLIENTS[client_id][3]
    row = rows[client_id]
    assert (row["product"], str(row["month"])) == (BP, "2025-06-01")
    assert row["license_source"] == "license_facts"
    assert row["missing_facts"] == missing
    for fact, column in COLUMN_OF.items():
        expected = None if fact == missing else (2 if fact in ("assigned", "active") else 5)
        assert row[column] == expected, (fact, row)
    assert MISSING_FACT_PHRASES[missing] in row["explanation"]
    for other in set(MISSING_FACT_PHRASES) - {missing}:
        assert MISSING_FACT_PHRASES[other] not in row["explanation"]
    if missing == "billed":  # neither billed seats nor their price are known
        assert row["unit_price"] is None and row["confidence_cost_completeness"] == 0.0
    else:  # a missing seat fact takes its share off an otherwise complete row
        assert row["confidence_cost_completeness"] == pytest.approx(MISSING_FACT_FACTOR)
    assert row["confidence"] < 1.0
