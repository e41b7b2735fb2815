"""`moatmetrics run` (the real pipeline: landing ingest, dbt, trust, publish) reports held
client keys with their rows, and still publishes without them in any client's row."""

from __future__ import annotations

import pytest

from moatmetrics.settings import Settings
from orchestration.pipeline import run_pipeline
from tests.integration.identity.test_client_identity_dbt import (
    ALIASES,
    CLIENTS,
    INVOICES,
    STAFF,
    TIME_ENTRIES,
)

pytestmark = pytest.mark.usefixtures("dbt_manifest")


@pytest.mark.timeout(900)
def test_run_prints_held_rows_per_source_and_key(home: Settings) -> None:
    for name, content in (
        ("clients.csv", CLIENTS),
        ("staff.csv", STAFF),
        ("client_aliases.csv", ALIASES),
        ("time_entries.csv", TIME_ENTRIES),
        ("invoices.csv", INVOICES),
    ):
        (home.landing_dir / name).write_text(content, encoding="utf-8")
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    assert outcome.held == [("connectwise", "NEWCO", 1), ("qbo", "Newco Ltd", 1)]
    summary = outcome.summary()
    assert "held: 1 rows for connectwise key 'NEWCO'" in summary
    assert "held: 1 rows for qbo key 'Newco Ltd'" in summary
    assert outcome.published is not None
