"""The trust layer end to end on the small demo data: three pipeline runs in one home.

Run 1 (the session's demo home, tests/built_homes.py) builds and publishes everything; the
churn model, the explanations and the published trust columns are checked on it. Runs 2 and 3
happen in a copy of that home. A reviewer then approves every open item; run 2 (no new
data) must keep every decision and reproduce every score; run 3 follows a corrected invoice
line of one client and must reopen that client's items only.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from built_homes import BuiltHome, copy_home
from sqlalchemy import select
from trust_digest import digests
from trust_support import foreign_numbers

from moatmetrics.appdb import audit, reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ReviewItem
from moatmetrics.marts import GRAINS, MART_NAMES
from moatmetrics.settings import Settings, apply_process_environment
from moatmetrics.snapshots import current_snapshot
from moatmetrics.trust import churn, formatting, scoring
from moatmetrics.trust.tables import FACTOR_COLUMNS, TRUST_COLUMNS
from orchestration.pipeline import run_pipeline

pytestmark = pytest.mark.slow

#: Features the demo generator's churn mechanism moves (and their direct consequences).
MECHANISM = {
    "effective_hourly_rate_trend", "reactive_hours_trend", "reactive_hours_share_3m",
    "hours_per_managed_user_3m", "license_seats_trend", "overdue_invoice_share_3m",
    "gross_margin_trend", "revenue_trend",
}  # fmt: skip
REVIEWER = audit.Actor("rita", "analyst")
DEMO_SCORES = Path(__file__).parents[2] / "fixtures" / "trust" / "demo_scores.json"


@dataclass
class Demo:
    settings: Settings
    files: Path
    first_snapshot: Path


@pytest.fixture(scope="module")
def demo(demo_home: BuiltHome) -> Iterator[Demo]:
    """The session's demo home, read only (its home in the env, as the pipeline has it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(demo_home.settings.home))
        patch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
        yield Demo(demo_home.settings, demo_home.files, demo_home.snapshot)


@pytest.fixture
def own_demo(demo_home: BuiltHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """A private copy of the demo home, for a test that runs the pipeline again in it."""
    copy = copy_home(demo_home, tmp_path / "home")
    monkeypatch.setenv("MOATMETRICS_HOME", str(copy.settings.home))
    monkeypatch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
    return Demo(copy.settings, copy.files, copy.snapshot)


def read(snapshot: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute(sql).df()


def materialization(settings: Settings, key: list[str]) -> dict:
    apply_process_environment(settings)
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


# --------------------------------------------------------------------------- churn risk


def test_churn_model_validates_on_held_out_months(demo: Demo) -> None:
    model = read(demo.first_snapshot, "SELECT * FROM meta.churn_model").iloc[0]
    assert model["status"] == "scored" and pd.isna(model["reason"])
    assert model["roc_auc"] >= 0.75
    assert model["precision_at_top_decile"] > model["validation_base_rate"]
    assert model["validation_from"] > model["train_to"]  # time-based split
    assert model["n_churned"] >= churn.MIN_CHURNED_CLIENTS
    metadata = materialization(demo.settings, ["trust", "client_risk"])
    assert metadata["roc_auc"] == model["roc_auc"]
    assert metadata["precision_at_top_decile"] == model["precision_at_top_decile"]
    assert metadata["n_churned"] == model["n_churned"]
    risk = read(demo.first_snapshot, "SELECT * FROM marts.client_risk")
    assert len(risk) > 0 and risk["risk_rank"].tolist() == list(range(1, len(risk) + 1))
    assert risk["churn_risk"].between(0, 1).all()


def test_mechanism_features_are_the_churners_top_shap_drivers(demo: Demo) -> None:
    model = read(demo.first_snapshot, "SELECT top_churn_drivers FROM meta.churn_model")
    ranking = [d["feature"] for d in json.loads(model.iloc[0, 0])]
    assert set(ranking[:3]) <= MECHANISM, ranking


def test_without_churn_the_model_reports_insufficient_history(demo: Demo) -> None:
    with duckdb.connect(str(demo.settings.warehouse_path), read_only=True) as con:
        features = scoring.load_features(con)
    churned = features["client_status"] == "churned"
    kept = sorted(features.loc[churned, "client_id"].unique())[:3]
    for subset, count in ((features[~churned], 0),
                          (features[~churned | features["client_id"].isin(kept)], 3)):  # fmt: skip
        result = churn.train_and_score(subset)
        assert result.status == "insufficient_history"
        assert result.reason == f"{count} churned clients; at least 10 needed"
        assert result.scores.empty


def test_the_asset_publishes_no_scores_and_says_why(demo: Demo, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo.settings.warehouse_path, home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            f"DELETE FROM {scoring.FEATURES_TABLE} WHERE client_status = 'churned'"
        )  # the same history, without the clients that left
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(home))
        from orchestration.assets.trust import client_risk

        result = dg.materialize([client_risk])
    metadata = result.asset_materializations_for_node(client_risk.op.name)[0].metadata
    assert metadata["status"].value == "insufficient_history"
    assert metadata["reason"].value == "0 churned clients; at least 10 needed"
    assert "roc_auc" not in metadata
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM trust.client_risk").fetchone()[0] == 0
        assert con.execute("SELECT status FROM trust.churn_model").fetchone()[0] == (
            "insufficient_history"
        )


# ------------------------------------------------------------------------- trust columns


def test_every_published_row_carries_confidence_factors_and_review_state(demo: Demo) -> None:
    for mart in MART_NAMES:
        rows = read(demo.first_snapshot, f"SELECT * FROM marts.{mart}")
        assert list(rows.columns[-len(TRUST_COLUMNS) :]) == list(TRUST_COLUMNS)
        assert rows[["confidence", *FACTOR_COLUMNS]].notna().all().all(), mart
        assert rows[["confidence", *FACTOR_COLUMNS]].apply(lambda c: c.between(0, 1)).all().all()
        assert (rows["needs_review"] == (rows["confidence"] < 0.7)).all()
        expected = rows["needs_review"].map({True: "open", False: "not_required"})
        assert (rows["review_status"] == expected).all()
        assert 0 < rows["needs_review"].mean() < 0.25, mart  # a queue a person can work through
        assert rows["drivers"].map(lambda text: isinstance(json.loads(text), dict)).all()
        metadata = materialization(demo.settings, ["trust", f"{mart}_scores"])
        assert metadata["needs_review"] == int(rows["needs_review"].sum())


def test_sql_scoring_publishes_exactly_what_the_pandas_scoring_did(demo: Demo) -> None:
    """Issue 14: scoring moved from pandas to DuckDB SQL; on the demo data every row's
    confidence, factors, flag, sentence and drivers are the same, byte for byte."""
    before = json.loads(DEMO_SCORES.read_text())
    for mart in MART_NAMES:
        published = digests(mart, read(demo.first_snapshot, f"SELECT * FROM marts.{mart}"))
        changed = [part for part in published if published[part] != before[mart][part]]
        assert changed == [], (mart, changed, "see tests/trust_digest.py")


def test_explanation_numbers_all_come_from_the_row(demo: Demo) -> None:
    for mart in (*MART_NAMES, "client_risk"):
        rows = read(demo.first_snapshot, f"SELECT * FROM marts.{mart}")
        assert (rows["explanation"].str.len() > 20).all()
        sample = rows.iloc[:: max(1, len(rows) // 80)]
        for row in sample.to_dict("records"):
            assert foreign_numbers(row) == [], (mart, row["explanation"])


def test_margin_sentences_state_the_rows_margin_and_baseline(demo: Demo) -> None:
    rows = read(demo.first_snapshot, "SELECT * FROM marts.client_profitability")
    head = re.compile(r"^Margin (?:fell|rose) to (-?\d+)% from a (\d)-month average of (-?\d+)%")
    matched = 0
    for row in rows.to_dict("records"):
        found = head.match(row["explanation"])
        if not found:
            continue
        matched += 1
        trailing = json.loads(row["drivers"])["trailing_3m"]["summary"]
        margin, baseline = (formatting.percent(pd.Series([v])).iloc[0]
                            for v in (row["gross_margin"], trailing["gross_margin"]))  # fmt: skip
        assert (found[1] + "%", int(found[2]), found[3] + "%") == (
            margin,
            trailing["months"],
            baseline,
        )
    assert matched > len(rows) / 2


# ------------------------------------------------------------------------------- reviews


def _items(settings: Settings) -> dict[tuple[str, str], tuple[str, str | None]]:
    with session_scope(settings) as session:
        return {
            (i.mart, i.row_key): (i.status, i.client_id)
            for i in session.scalars(select(ReviewItem))
        }


def _item_snapshots(settings: Settings) -> set[str | None]:
    with session_scope(settings) as session:
        return set(session.scalars(select(ReviewItem.snapshot_id)))


def _trust_tables(settings: Settings) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            mart: con.execute(
                f"SELECT * FROM trust.{mart}_scores ORDER BY {', '.join(GRAINS[mart])}"
            ).df()
            for mart in MART_NAMES
        }


def _correct_one_invoice_line(demo: Demo, flagged: pd.DataFrame) -> tuple[str, str]:
    """Land a corrected copy (one more unit) of an invoice line of a flagged client-month."""
    with open(demo.files / "invoices.csv", newline="") as handle:
        lines = [
            r for r in csv.DictReader(handle)
            if r["status"] not in ("draft", "void") and float(r["unit_price"]) > 0
        ]  # fmt: skip
    candidates = {(r["client_id"], r["invoice_date"][:7]): r for r in reversed(lines)}
    for client, month in zip(flagged["client_id"], flagged["month"].astype(str), strict=True):
        line = candidates.get((client, month[:7]))
        if line is not None:
            break
    else:
        raise AssertionError("no flagged client-month with an invoice line")
    quantity = float(line["quantity"]) + 1
    line.update(quantity=f"{quantity:.2f}", amount=f"{quantity * float(line['unit_price']):.2f}")
    with open(demo.settings.landing_dir / "invoices_correction.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(line))
        writer.writeheader()
        writer.writerow(line)
    return client, month[:10]


def test_decisions_stick_and_a_changed_invoice_reopens_only_that_client(own_demo: Demo) -> None:
    demo = own_demo
    settings = demo.settings
    before = _trust_tables(settings)
    assert _item_snapshots(settings) == {demo.first_snapshot.stem}  # named by the publish
    with session_scope(settings, write=True) as session:
        for item in session.scalars(select(ReviewItem).where(ReviewItem.status == "open")):
            reviews.decide(session, REVIEWER, item.id, "approved", "checked against the PSA")
    decided = _items(settings)
    assert decided and {status for status, _ in decided.values()} == {"approved"}

    # Run 2, nothing new: every decision stands and every score is reproduced exactly.
    assert run_pipeline(settings).success
    assert _items(settings) == decided
    assert _item_snapshots(settings) == {current_snapshot(settings).snapshot_id}
    after = _trust_tables(settings)
    for mart in MART_NAMES:
        flagged = before[mart]["needs_review"]
        assert (after[mart].loc[flagged, "review_status"] == "approved").all()
        pd.testing.assert_frame_equal(
            before[mart].drop(columns="review_status"), after[mart].drop(columns="review_status")
        )
    published = read(current_snapshot(settings).path, "SELECT * FROM marts.client_profitability")
    assert set(published.loc[published["needs_review"], "review_status"]) == {"approved"}
    for mart in MART_NAMES:  # no row's inputs changed: none was scored again
        assert materialization(settings, ["trust", f"{mart}_scores"])["rows_scored_anew"] == 0
    assert materialization(settings, ["trust", "client_risk"])["retrained"] is False
    # no complete month changed either: the anomalies and forecasts are the last run's, kept
    assert materialization(settings, ["insights", "anomalies"])["recomputed"] is False
    assert materialization(settings, ["insights", "forecasts"])["recomputed"] is False

    # Run 3: one invoice line of one flagged client-month changes.
    cp = after["client_profitability"]
    client, month = _correct_one_invoice_line(demo, cp[cp["needs_review"]])
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.summary()
    # the client's rows from that month on (its history windows), not the portfolio's
    rescored = materialization(settings, ["trust", "client_profitability_scores"])
    assert 0 < rescored["rows_scored_anew"] <= (cp["client_id"] == client).sum()
    items = _items(settings)
    reopened = {key for key, (status, _) in items.items() if status == "open"}
    assert ("client_profitability", json.dumps([client, month], separators=(",", ":"))) in reopened
    assert {items[key][1] for key in reopened} == {client}
    others = {key: value for key, value in decided.items() if value[1] != client}
    assert {key: items[key] for key in others} == others
