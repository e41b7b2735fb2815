"""Resources shared by the assets: the warehouse (single writer) and dbt."""

from __future__ import annotations

import fcntl
import importlib.metadata
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from moatmetrics.settings import DBT_PROJECT_DIR, Settings, ensure_home

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class WarehouseLockTimeout(RuntimeError):
    """Another MoatMetrics process is writing the warehouse."""


@contextmanager
def warehouse_lock(settings: Settings, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the home's writer lock.

    DuckDB allows one read-write process per file; the lock makes a second writer (a CLI
    ingest during a scheduled run, say) wait its turn instead of failing on the file lock.
    """
    ensure_home(settings)
    with open(settings.home / "warehouse.lock", "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"another MoatMetrics process has been writing {settings.warehouse_path}"
                        f" for over {timeout_s:.0f} s"
                    ) from exc
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@contextmanager
def warehouse_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing under the writer lock."""
    with warehouse_lock(settings):
        con = duckdb.connect(
            str(settings.warehouse_path), config={"memory_limit": settings.duckdb_memory_limit}
        )
        try:
            yield con
        finally:
            con.close()


class OfflineDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, minus its `dbt --version` call.

    dagster-dbt learns the dbt version by running `dbt --version`, and that command always asks
    PyPI for the latest release — an outbound connection on every run, caught by the privacy
    test. The installed dbt-core's version is the same answer, read locally.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    return OfflineDbtCliResource(
        project_dir=dbt_project,
        # The profile's default: `duckdb`, or `postgres` in PostgreSQL mode (MOATMETRICS_DBT_TARGET
        # set by apply_process_environment), decided per run rather than at import.
        target=None,
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
        global_config_flags=["--no-use-colors", "--no-send-anonymous-usage-stats"],
    )
