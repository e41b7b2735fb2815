"""dbt models (staging -> intermediate -> marts) as Dagster assets, with dbt tests as checks."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings, get_settings
from moatmetrics.warehouse.connection import opened_warehouse, warehouse_connection
from moatmetrics.warehouse.incremental_months import (
    FULL_REFRESH_TAG,
    INCREMENTAL_MODELS,
    MonthPlan,
    plan_months,
    record_build,
)
from moatmetrics.warehouse.pg_mode import pull_dbt_outputs
from orchestration.resources import InProcessDbt, dbt_project


class MoatMetricsDbtTranslator(DagsterDbtTranslator):
    """Models are keyed by their layer (`marts/client_profitability`); sources stay `raw/*`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "dbt"
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "marts" if self.get_asset_key(dbt_resource_props).path[0] == "marts" else "dbt"


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=MoatMetricsDbtTranslator())
def dbt_models(context: dg.AssetExecutionContext, dbt: InProcessDbt):
    """`dbt build`: models and data tests; any failure blocks publishing.

    dbt's unit tests check the SQL's formulas against fixed inputs, not the data, so they run
    in the test suite (`tests/integration/dbt`, CI) rather than on every production run (1.7 s
    at 1m).
    In PostgreSQL mode dbt builds there, and the marts and trust inputs are then copied back
    into the local warehouse, where the trust layer computes.
    """
    settings = get_settings()
    build = ["build", "--exclude-resource-type", "unit_test"]
    # The home's own target folder: dbt's partial parse needs the profile of the run before
    # (the warehouse path is part of it), which a new folder per run never has (3 s a run).
    target = settings.dbt_target_dir
    selected = {key.path[-1] for key in context.selected_asset_keys}
    incremental = [model for model in INCREMENTAL_MODELS if model in selected]
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    if not settings.postgres_mode:
        # dbt writes the DuckDB file: under the writer lock, a step of another run (a CLI
        # ingest during a daemon-launched run, say) waits for it instead of failing on
        # DuckDB's own file lock.
        with warehouse_lock(settings):
            with opened_warehouse(settings) as con:
                plan = _month_plan(context, con, settings, incremental, full_refresh)
            yield from dbt.stream(
                build + _plan_args(plan), context, target, _plan_environment(plan)
            )
            _record(settings, plan, incremental, locked=True)
        return
    with warehouse_connection(settings) as con:
        plan = _month_plan(context, con, settings, incremental, full_refresh)
    yield from dbt.stream(build + _plan_args(plan), context, target, _plan_environment(plan))
    _record(settings, plan, incremental, locked=False)
    with warehouse_connection(settings) as con:
        pulled = pull_dbt_outputs(con, settings)
    context.log.info("from PostgreSQL: " + ", ".join(f"{t.name}={t.rows}" for t in pulled))


def _month_plan(
    context: dg.AssetExecutionContext,
    con,
    settings: Settings,
    incremental: list[str],
    full_refresh: bool,
) -> MonthPlan | None:
    """The months of time entries this build replaces; None when it builds neither model."""
    if not incremental:
        return None
    plan = plan_months(con, settings, full_refresh=full_refresh)
    context.log.info(plan.summary())
    return plan


def _plan_args(plan: MonthPlan | None) -> list[str]:
    return plan.dbt_args() if plan is not None else []


def _plan_environment(plan: MonthPlan | None) -> dict[str, str]:
    return plan.dbt_environment() if plan is not None else {}


def _record(
    settings: Settings, plan: MonthPlan | None, incremental: list[str], locked: bool
) -> None:
    """Record the build's months once dbt built both incremental models (a rerun of one of
    them alone does not vouch for the other, so the next full run replans)."""
    if plan is None or len(incremental) < len(INCREMENTAL_MODELS):
        return
    if locked:
        with opened_warehouse(settings) as con:
            record_build(con, plan)
        return
    with warehouse_connection(settings) as con:
        record_build(con, plan)
