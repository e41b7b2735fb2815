"""Shared fixtures: every test gets its own MoatMetrics home (warehouse, snapshots, uploads),
and the demo home is built once per session for the tests that read it (tests/built_homes.py)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, build_home, built_once_per_run

os.environ.setdefault("DO_NOT_TRACK", "1")

from moatmetrics.settings import Settings, ensure_home, get_settings  # noqa: E402


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MOATMETRICS_HOME", str(tmp_path / "home"))
    settings = get_settings()
    ensure_home(settings)
    return settings


@pytest.fixture
def warehouse(home: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(home.warehouse_path))
    yield con
    con.close()


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepare dbt's manifest once per test run (the Dagster definitions need it to load).

    With several workers (pytest-xdist, `make test`), each worker is a session: the first to
    take the lock parses, the others find this run's marker and use its manifest, so no
    worker reads the project's target folder while another rewrites it."""
    from moatmetrics.cli import ensure_dbt_manifest

    if "PYTEST_XDIST_WORKER" not in os.environ:
        return ensure_dbt_manifest(force=True)
    run = tmp_path_factory.getbasetemp().parent  # a worker's basetemp lies in the run's
    marker = run / "dbt-manifest-parsed"
    with (run / "dbt-manifest.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = ensure_dbt_manifest(force=not marker.exists())
        marker.touch()
    return manifest


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> BuiltHome:
    """The small demo data (seed 42) through the real pipeline, once per test run (a copy per
    worker: `built_homes.built_once_per_run`), its labelled events beside the files
    (`demo_labels`). Read it as it is; copy it (`built_homes.copy_home`) before changing
    anything in it."""
    from moatmetrics.demo_data import generate

    def build(root: Path) -> BuiltHome:
        generate(root / "files", labels=root / "planted_events.csv")
        return build_home(root / "home", root / "files")

    return built_once_per_run(tmp_path_factory, "demo-home", build)


@pytest.fixture(scope="session")
def handmade_home(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> BuiltHome:
    """The handmade exports (tests/fixtures/handmade, marts computed by hand) through the real
    pipeline, once per test run (a copy per worker). Read it as it is; copy it
    (`built_homes.copy_home`) before changing anything in it."""
    from fixture_files import HANDMADE

    return built_once_per_run(
        tmp_path_factory, "handmade-home", lambda root: build_home(root / "home", HANDMADE)
    )


@pytest.fixture(scope="session")
def demo_labels(demo_home: BuiltHome) -> Path:
    """The demo's labelled events (planted anomalies and its own story), never ingested."""
    return demo_home.files.parent / "planted_events.csv"


@pytest.fixture
def ingestor(home: Settings, warehouse: duckdb.DuckDBPyConnection):
    from moatmetrics.ingest.loader import Ingestor

    return Ingestor(warehouse, home)


@pytest.fixture
def upload(tmp_path: Path, ingestor) -> Callable:
    """Write `content` (str or bytes) to `files/<name>` and ingest it."""

    def _upload(name: str, content: str | bytes, entity: str | None = None):
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return ingestor.ingest_file(path, entity_name=entity)

    return _upload


# The longest test modules (`pytest --durations`, 2026-12-07; each over 80 s on one worker),
# longest first. `make test`'s workers take a module at a time in collection order
# (`--no-loadscope-reorder`; xdist's default order is by number of tests, which put these
# last): a long module taken last keeps one worker busy after the other has run out of work,
# so these go first. Only the order changes; a module missing from the list keeps its place
# after them.
LONGEST_MODULES = (
    "tests/e2e/test_incremental_months.py",
    "tests/e2e/api/test_api_workers.py",
    "tests/e2e/api/test_api_schemathesis.py",
    "tests/e2e/test_run_recovery.py",
    "tests/e2e/browser/test_console_browser.py",
    "tests/e2e/test_privacy.py",
    "tests/e2e/test_postgres_mode.py",
    "tests/e2e/test_pipeline.py",
    "tests/e2e/test_corrections.py",
    "tests/e2e/api/test_api_uploads.py",
    "tests/e2e/test_daemon_recovery.py",
    "tests/e2e/test_rebuild_as_of.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: place for place, module in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
