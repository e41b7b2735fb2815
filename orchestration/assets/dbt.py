"""dbt models (staging -> intermediate -> marts) as Dagster assets, with dbt tests as checks."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, dbt_assets, get_asset_key_for_model
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from moatmetrics.run_lock import warehouse_lock
from moatmetrics.seam.base import Storage
from moatmetrics.settings import Settings
from moatmetrics.warehouse.connection import opened_warehouse, warehouse_connection
from moatmetrics.warehouse.incremental_months import (
    FULL_REFRESH_TAG,
    PLANNED_MODELS,
    plan_months,
    record_build,
)
from moatmetrics.warehouse.tested_inputs import (
    forget_tested,
    input_fingerprints,
    raw_tables,
    record_tested,
    untouched_models,
    untouched_tests,
)
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
def dbt_models(
    context: dg.AssetExecutionContext, dbt: InProcessDbt, storage: dg.ResourceParam[Storage]
):
    """`dbt build`: models and data tests; any failure blocks publishing.

    dbt's unit tests check the SQL's formulas against fixed inputs, not the data, so they run
    in the test suite (`tests/integration/dbt`, CI) rather than on every production run (1.7 s
    at 1m).
    In PostgreSQL mode dbt builds there, and the marts and trust inputs are then copied back
    into the local warehouse, where the trust layer computes.
    """
    settings = storage.settings
    if storage.name == "duckdb":
        # dbt writes the DuckDB file: under the writer lock, a step of another run (a CLI
        # ingest during a daemon-launched run, say) waits for it instead of failing on
        # DuckDB's own file lock; the month plan is read and recorded under the same hold.
        with warehouse_lock(settings):
            yield from _build(context, dbt, storage, opened_warehouse)
        return
    yield from _build(context, dbt, storage, warehouse_connection)
    with warehouse_connection(settings) as con:
        pulled = storage.after_dbt(con)
    context.log.info("from PostgreSQL: " + ", ".join(f"{t.name}={t.rows}" for t in pulled))


def _build(
    context: dg.AssetExecutionContext,
    dbt: InProcessDbt,
    storage: Storage,
    open_warehouse: Callable[[Settings], AbstractContextManager[duckdb.DuckDBPyConnection]],
) -> Iterator[Any]:
    """`dbt build` of the selection, replacing only the months of time entries that changed
    (`moatmetrics.warehouse.incremental_months`) when the selection builds the models it plans.

    The plan is recorded once dbt built all the planned models: a rerun of some of them alone
    does not vouch for the others, so the next run plans the same months again.
    """
    # The tests of what the ingest guarantees (a raw table's natural key is present and
    # unique: the contract rejects the row or the file otherwise) are not run either: on the
    # 10m demo they scanned the ten million time entries again (2 s). The test suite's dbt
    # builds (tests/integration/dbt) run them.
    # And the data tests whose every input is as the last fully tested build found it
    # (`moatmetrics.warehouse.tested_inputs`): on the same rows they cannot fail.
    settings = storage.settings
    excluded = ["tag:ingest_guarantee"]
    selected = {key.path[-1] for key in context.selected_asset_keys}
    incremental = [model for model in PLANNED_MODELS if model in selected]
    manifest = get_manifest_and_translator_from_dbt_assets([context.assets_def])[0]
    plan = None
    with open_warehouse(settings) as con:
        if incremental:
            plan = plan_months(
                con, settings, full_refresh=context.run.tags.get(FULL_REFRESH_TAG) == "true"
            )
            context.log.info(plan.summary())
        tested = input_fingerprints(
            con, settings, raw_tables(manifest), plan.fingerprints if plan else None
        )
        untouched: list[str] = []
        if plan is None or not plan.full:
            untouched = untouched_tests(con, manifest, tested)
            if not context.is_subset:  # a rerun from the UI builds what it names
                candidates = _read_only_by_dbt(context, manifest, storage)
                untouched += untouched_models(con, manifest, tested, candidates)
        forget_tested(con)
    if untouched:
        context.log.info(
            f"dbt: {len(untouched)} data test(s) and model(s) left out, their inputs unchanged"
            " since the last fully tested build"
        )
    build = ["build", "--exclude-resource-type", "unit_test", "--exclude", *excluded, *untouched]
    build += plan.dbt_args() if plan is not None else []
    # The home's own target folder: dbt's partial parse starts from the run before's (a
    # home's first run from the installation's, `resources.seed_partial_parse`), which a new
    # folder per run never has (3 s a run).
    environment = plan.dbt_environment() if plan is not None else {}
    yield from dbt.stream(build, context, settings.dbt_target_dir, environment)
    with open_warehouse(settings) as con:
        if plan is not None and len(incremental) == len(PLANNED_MODELS):
            record_build(con, plan)
        if not context.is_subset:
            record_tested(con, tested)


def _read_only_by_dbt(
    context: dg.AssetExecutionContext, manifest: Mapping[str, Any], storage: Storage
) -> set[str]:
    """The models a build may leave out when their inputs are unchanged: those only other dbt
    models read. Dagster skips the steps downstream of an asset a run does not materialise,
    so a model a Python asset reads (the evidence, the marts, the churn features) is always
    built. In PostgreSQL mode views are always built too: the copy of raw into PostgreSQL
    drops the staging views with the tables they read."""
    graph = context.job_def.asset_layer.asset_graph
    dbt_keys = set(context.assets_def.keys)
    names = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        if not storage.keeps_dbt_views and node["config"]["materialized"] == "view":
            continue
        key = get_asset_key_for_model([context.assets_def], node["name"])
        if graph.get(key).child_keys <= dbt_keys:
            names.add(node["name"])
    return names
