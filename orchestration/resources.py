"""dbt, the one resource the assets share (the warehouse: `moatmetrics.warehouse.connection`)."""

from __future__ import annotations

import importlib.metadata
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from moatmetrics.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


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
