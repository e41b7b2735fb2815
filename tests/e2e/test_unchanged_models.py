"""A run leaves out the dbt models whose raw tables did not change (tested_inputs), still builds
every model a Python asset reads, and publishes what a full rebuild would.

Real pipeline runs on a copy of the demo home: a new licences file changes `raw.licenses` and
nothing else. The staff and client staging models and the corrected clients and staff read none
of it and are left out; the client work-type summaries read none of it either, but the anomaly
detector (a Python asset) reads them, and Dagster skips the steps downstream of an asset a run
does not materialise, so they must be built — or nothing would be published.
"""

from __future__ import annotations

import csv
import json

import duckdb
import pytest
from built_homes import BuiltHome, copy_home

from moatmetrics.settings import Settings
from orchestration.pipeline import run_pipeline

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _built_models(settings: Settings) -> set[str]:
    results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}


def _marts(settings: Settings) -> dict[str, tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        names = [r[0] for r in con.execute("SHOW TABLES FROM marts").fetchall()]
        return {n: con.execute(f"SELECT count(*), sum(hash(t)) FROM marts.{n} AS t").fetchone()
                for n in names}  # fmt: skip


def test_a_licence_file_leaves_unchanged_models_out_and_publishes_the_full_result(
    demo_home: BuiltHome, home: Settings
) -> None:
    built = copy_home(demo_home, home.home)
    settings = built.settings
    with (built.files / "licenses.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["seats_purchased"] = str(int(rows[0]["seats_purchased"]) + 3)
    with (settings.landing_dir / "licenses_recount.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    outcome = run_pipeline(settings)

    assert outcome.success and outcome.published, outcome.summary()
    ran = _built_models(settings)
    left_out = {"stg_raw__staff", "stg_raw__clients", "int_clients_corrected"}
    assert not ran & left_out, ran & left_out
    # read by Python assets (anomalies, churn risk): built although their inputs are unchanged
    assert {"int_client_work_types_summarized", "int_staff_work_types_summarized"} <= ran
    assert {"stg_raw__licenses", "license_utilization", "trends"} <= ran
    incremental = _marts(settings)

    rebuilt = run_pipeline(settings, full_refresh=True)

    assert rebuilt.success and rebuilt.published, rebuilt.summary()
    assert left_out <= _built_models(settings)
    assert _marts(settings) == incremental
