"""A run with nothing new ends before it starts and publishes nothing (moatmetrics/run_inputs.py).

The demo home is copied per test; each kind of new input (a landing file, a retraction, a
correction, a review decision, a setting that reaches the marts) must make the next run go,
and a forced run must publish the same numbers and then count as the current inputs.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, copy_home
from sqlalchemy import select

from moatmetrics.appdb import audit, overrides, reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ReviewItem, Upload
from moatmetrics.appdb.uploads import retract_upload
from moatmetrics.cli import main as cli_main
from moatmetrics.run_inputs import unchanged_since_publish
from moatmetrics.settings import Settings
from moatmetrics.snapshots import current_snapshot, list_snapshots
from moatmetrics.storage.configured import storage_for
from orchestration.pipeline import run_pipeline

pytestmark = pytest.mark.usefixtures("dbt_manifest")

ANALYST = audit.Actor("carol", "analyst")
Change = Callable[[Settings, pytest.MonkeyPatch], Settings]


@pytest.fixture
def demo_copy(demo_home: BuiltHome, home: Settings) -> Settings:
    copy_home(demo_home, home.home)
    return home


def _marts(path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SHOW TABLES FROM marts").fetchall()]
        return {n: con.execute(f"SELECT * FROM marts.{n} ORDER BY ALL").fetchall() for n in names}


def _dagster_runs(settings: Settings) -> int:
    from dagster import DagsterInstance

    # This home's instance, whatever DAGSTER_HOME an earlier test's run left in the process.
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        return instance.get_runs_count()


def test_a_run_with_nothing_new_starts_no_dagster_run_and_publishes_nothing(
    demo_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = demo_copy
    served = current_snapshot(settings)
    assert served is not None
    snapshots = [s.snapshot_id for s in list_snapshots(settings)]
    runs = _dagster_runs(settings)

    outcome = run_pipeline(settings)
    assert outcome.success and outcome.published is None and outcome.run_id is None
    assert outcome.summary().startswith(f"no run: nothing new since snapshot {served.snapshot_id}")
    assert [s.snapshot_id for s in list_snapshots(settings)] == snapshots
    assert _dagster_runs(settings) == runs  # the UI's run history shows no empty run

    assert cli_main(["run"]) == 0  # the command a scheduler calls succeeds
    assert "no run: nothing new since snapshot" in capsys.readouterr().out


def test_the_daily_schedule_skips_a_day_with_nothing_new(demo_copy: Settings) -> None:
    import dagster as dg

    from orchestration.schedules import daily_pipeline

    tick = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        skipped = daily_pipeline(context)
        assert isinstance(skipped, dg.SkipReason)
        assert "nothing new since snapshot" in (skipped.skip_message or "")
        _new_landing_file(demo_copy, pytest.MonkeyPatch())
        requested = daily_pipeline(context)
        assert isinstance(requested, dg.RunRequest)


def _new_landing_file(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    (settings.landing_dir / "clients_more.csv").write_text(
        "client_id,client_name,industry\nC-NEW,Newco Dental,dental\n"
    )
    return settings


def _retraction(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    with session_scope(settings, write=True) as session:
        accepted = session.scalars(select(Upload).where(Upload.status == "accepted")).first()
        assert accepted is not None
        retract_upload(session, ANALYST, str(accepted.id), "sent twice by the PSA")
    return settings


def _correction(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        (client_id,) = con.execute("SELECT min(client_id) FROM raw.clients").fetchone()
    with session_scope(settings, write=True) as session:
        overrides.create(
            session, ANALYST, "clients", {"client_id": client_id}, "set", "industry",
            "Dental", "the PSA has it wrong",
        )  # fmt: skip
    return settings


def _review_decision(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    with session_scope(settings, write=True) as session:
        item = session.scalars(select(ReviewItem).where(ReviewItem.status == "open")).first()
        assert item is not None, "the demo data has rows to review"
        reviews.decide(session, ANALYST, item.id, "approved", "checked against the PSA")
    return settings


def _review_threshold(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return dataclasses.replace(settings, review_threshold=settings.review_threshold + 0.05)


def _license_suppliers(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MOATMETRICS_LICENSE_SUPPLIERS", "Pax8")
    return settings


@pytest.mark.parametrize(
    "change",
    [
        _new_landing_file,
        _retraction,
        _correction,
        _review_decision,
        _review_threshold,
        _license_suppliers,
    ],
    ids=lambda change: change.__name__.strip("_"),
)
def test_each_kind_of_new_input_makes_the_next_run_go(
    demo_copy: Settings, monkeypatch: pytest.MonkeyPatch, change: Change
) -> None:
    monkeypatch.delenv("MOATMETRICS_LICENSE_SUPPLIERS", raising=False)
    assert unchanged_since_publish(storage_for(demo_copy)) is not None
    assert unchanged_since_publish(storage_for(change(demo_copy, monkeypatch))) is None


def test_a_forced_run_publishes_the_same_numbers_then_is_current(demo_copy: Settings) -> None:
    settings = demo_copy
    served = current_snapshot(settings)
    assert served is not None and served.path is not None
    forced = run_pipeline(settings, force=True)
    assert forced.success and forced.published, forced.summary()
    assert forced.published.snapshot_id != served.snapshot_id
    assert forced.published.path is not None
    assert _marts(forced.published.path) == _marts(served.path)
    again = run_pipeline(settings)
    assert again.published is None
    assert f"nothing new since snapshot {forced.published.snapshot_id}" in again.summary()


def test_the_code_part_follows_the_installed_code_not_where_it_lies(tmp_path: Path) -> None:
    from moatmetrics import fingerprints
    from moatmetrics.settings import DBT_PROJECT_DIR

    package_root = Path(fingerprints.__file__).resolve().parents[1]
    here = fingerprints.source_digest(package_root)
    ignore = shutil.ignore_patterns("__pycache__")
    copies = [tmp_path / side / "site-packages" for side in ("a", "z")]
    for copy in copies:
        for folder in ("moatmetrics", "orchestration"):
            shutil.copytree(package_root / folder, copy / folder, ignore=ignore)
        assert fingerprints.source_digest(copy) == here  # the same code elsewhere
    # What dbt writes into its project is not code: a run's output changes nothing.
    dbt_copy = copies[0] / DBT_PROJECT_DIR.relative_to(package_root)
    (dbt_copy / "target").mkdir(exist_ok=True)
    (dbt_copy / "target" / "run_results.json").write_text("{}")
    assert fingerprints.source_digest(copies[0]) == here
    model = next(dbt_copy.glob("models/marts/*.sql"))
    model.write_text(model.read_text() + "\n-- a changed model\n")
    assert fingerprints.source_digest(copies[0]) != here
    suite = next((copies[1] / "moatmetrics" / "quality" / "expectations").glob("*.json"))
    suite.write_text(suite.read_text() + "\n")
    assert fingerprints.source_digest(copies[1]) != here  # a quality suite is code too
