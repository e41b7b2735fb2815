"""The one Dagster code location of MoatMetrics (used by the UI, the CLI and tests)."""

from __future__ import annotations

import dagster as dg

from moatmetrics.settings import apply_process_environment, get_settings

apply_process_environment(get_settings())

from orchestration.assets.dbt import dbt_models  # noqa: E402
from orchestration.assets.ingest import raw_tables  # noqa: E402
from orchestration.assets.insights import actions, anomalies, forecasts  # noqa: E402
from orchestration.assets.publish import published_snapshot  # noqa: E402
from orchestration.assets.publish_postgres import published_postgres  # noqa: E402
from orchestration.assets.trust import SCORE_ASSETS, client_risk  # noqa: E402
from orchestration.resources import dbt_resource, storage_resource  # noqa: E402
from orchestration.schedules import daily_pipeline, pipeline_job  # noqa: E402
from orchestration.sensors import landing_sensor  # noqa: E402

defs = dg.Definitions(
    assets=[
        raw_tables,
        dbt_models,
        *SCORE_ASSETS,
        client_risk,
        actions,
        anomalies,
        forecasts,
        published_snapshot,
        published_postgres,
    ],
    jobs=[pipeline_job],
    schedules=[daily_pipeline],
    sensors=[landing_sensor],
    resources={"dbt": dbt_resource(), "storage": storage_resource},
)
