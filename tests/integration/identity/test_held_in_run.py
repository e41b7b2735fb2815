"""`moatmetrics run` (the real pipeline: landing ingest, dbt, trust, publish) reports held
client keys with their rows, and still publishes without them in any client's row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from moatmetrics.settings import Settings
from orchestration.pipeline import run_pipeline
from tests.integration.identity.test_client_identity_dbt import (
    ALIASES,
    CLIENTS,
    STAFF,
    TIME_ENTRIES,
)

INVOICES_WITH_ACCOUNT = """\
invoice_id,client_id,client_source,client_key,invoice_date,amount,status,account
INV1,,qbo,Birch and Sons,2026-03-31,500,paid,Consulting
INV2,,qbo,Newco Ltd,2026-03-31,250,paid,
"""

pytestmark = pytest.mark.usefixtures("dbt_manifest")


@pytest.mark.timeout(900)
def test_run_prints_held_rows_per_source_and_key(home: Settings) -> None:
    for name, content in (
        ("clients.csv", CLIENTS),
        ("staff.csv", STAFF),
        ("client_aliases.csv", ALIASES),
        ("time_entries.csv", TIME_ENTRIES),
        # Birch and Sons' line names an account no account_map row maps
        ("invoices.csv", INVOICES_WITH_ACCOUNT),
    ):
        (home.landing_dir / name).write_text(content, encoding="utf-8")
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    assert outcome.held == [("connectwise", "NEWCO", 1), ("qbo", "Newco Ltd", 1)]
    summary = outcome.summary()
    assert "held: 1 rows for connectwise key 'NEWCO'" in summary
    assert "held: 1 rows for qbo key 'Newco Ltd'" in summary
    assert outcome.findings.unmapped_accounts == [("qbo", "Consulting", 1, Decimal("500.0000"))]
    assert (
        "unmapped account: qbo 'Consulting' on 1 invoice line (500.00) counts as other"
        " (add an account_map row to give it a category)" in summary
    )
    assert outcome.published is not None
