"""The steps PostgreSQL mode adds to a pipeline run (MOATMETRICS_WAREHOUSE_URL set).

Ingest keeps running in the local DuckDB warehouse (vectorised readers, contract rules as
SQL); everything after it happens in PostgreSQL:

1. after ingest, `raw.*` is copied to `warehouse_raw.*` (`push_raw`);
2. dbt builds `warehouse_staging`, `warehouse_intermediate` and `warehouse_marts` there;
3. the trust layer computes in DuckDB over what dbt built, pulled back by `pull_dbt_outputs`
   (the marts, their evidence and the churn features);
4. publishing copies the snapshot (marts with their trust columns) into `snapshot_<id>` and
   marks it current (`PostgresStorage.publish`): the trust tables reach PostgreSQL
   there, once, so they are not copied on their own (schema `warehouse_trust`, written and
   never read until 2026-12-06, is dropped by the next run).

Every copy is COPY in bulk, one transaction per call; no Python loop touches a data row.
Callers hold the warehouse writer lock; they reach these steps through the storage seam
(`moatmetrics.storage.postgres.PostgresStorage.after_ingest` / `after_dbt`).
"""

from __future__ import annotations

import duckdb

from moatmetrics.marts import DBT_MARTS, MART_NAMES
from moatmetrics.settings import PG_WAREHOUSE_SCHEMA_PREFIX
from moatmetrics.trust import evidence
from moatmetrics.trust.tables import SCHEMA as TRUST_SCHEMA
from moatmetrics.warehouse.postgres import (
    CopiedTable,
    copy_raw_to_postgres,
    drop_schemas,
    pull_from_postgres,
)

#: Intermediate models the trust layer reads besides the marts and their evidence (the churn
#: features), the staff contracts the capacity forecasts read, the work-type detail anomalies
#: name as drivers, and what the run reports: held client keys, unmapped accounts, license
#: bills left out.
TRUST_INPUTS = (
    "int_client_months_featured",
    "int_staff_members_corrected",
    "int_client_keys_held",
    "int_invoice_accounts_unmapped",
    "int_expenses_excluded",
    "int_client_work_types_summarized",
    "int_staff_work_types_summarized",
)


def warehouse_schema(layer: str) -> str:
    """PostgreSQL schema of a warehouse layer in PostgreSQL mode (`marts` -> `warehouse_marts`)."""
    return PG_WAREHOUSE_SCHEMA_PREFIX + layer


#: Schemas earlier releases wrote in PostgreSQL mode and nothing reads any more.
RETIRED_SCHEMAS = (warehouse_schema(TRUST_SCHEMA),)


def push_raw(con: duckdb.DuckDBPyConnection, url: str) -> list[CopiedTable]:
    """Replace `warehouse_raw.*` with the local raw layer, and drop the retired schemas, whose
    stale copies would only mislead a SQL reader."""
    copied = copy_raw_to_postgres(con, url, "raw", warehouse_schema("raw"))
    drop_schemas(url, RETIRED_SCHEMAS)
    return copied


def pull_dbt_outputs(con: duckdb.DuckDBPyConnection, url: str) -> list[CopiedTable]:
    """Replace the local marts and trust inputs with what dbt just built in PostgreSQL."""
    wanted = [(warehouse_schema("marts"), mart, "marts") for mart in DBT_MARTS]
    wanted += [
        (warehouse_schema(evidence.SCHEMA), evidence.model_name(mart), evidence.SCHEMA)
        for mart in MART_NAMES
    ]
    wanted += [(warehouse_schema("intermediate"), name, "intermediate") for name in TRUST_INPUTS]
    return pull_from_postgres(con, url, wanted)
