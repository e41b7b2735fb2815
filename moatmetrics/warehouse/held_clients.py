"""Held client keys, as the last dbt build left them: vendor rows naming a client that no
alias and no normalised name resolves (dbt model int_client_keys_held, docs/sources.md).

Their rows are loaded but out of every client's numbers until someone names the client, so
the run's summary lists the keys and the uploads page counts each file's held rows. Both read
the local warehouse, where PostgreSQL mode pulls the model back with the trust inputs.
"""

from __future__ import annotations

import duckdb

from moatmetrics.at_rest.duckdb_files import connect_duckdb
from moatmetrics.settings import Settings

HELD_TABLE = "int_client_keys_held"
HELD_MODEL = f"intermediate.{HELD_TABLE}"
# The facts that name a client by the vendor's key (the model's inputs).
FACT_TABLES = ("time_entries", "invoices", "expenses", "license_facts")


def has_intermediate_model(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    """Whether the last dbt build left `intermediate.<model>` (none before the first build)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = 'intermediate' AND table_name = ?",
        [model],
    ).fetchone()
    return bool(found and found[0])


def held_client_keys(settings: Settings) -> list[tuple[str | None, str, int]]:
    """(client_source, client_key, rows) of every held key, most rows first."""
    with connect_duckdb(settings.warehouse_path, settings, read_only=True) as con:
        if not has_intermediate_model(con, HELD_TABLE):
            return []
        return con.execute(
            f"SELECT client_source, client_key, CAST(held_rows AS BIGINT) FROM {HELD_MODEL}"
            " ORDER BY held_rows DESC, client_source, client_key"
        ).fetchall()


def held_rows_by_upload(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Warehouse upload id -> its rows whose client key is held (uploads with none absent)."""
    if not has_intermediate_model(con, HELD_TABLE):
        return {}
    facts = " UNION ALL ".join(
        f"SELECT _upload_id, client_source, client_key FROM raw.{table}"
        " WHERE client_id IS NULL AND client_key IS NOT NULL"
        for table in FACT_TABLES
    )
    rows = con.execute(
        f"SELECT facts._upload_id, count(*) FROM ({facts}) AS facts"
        f" JOIN {HELD_MODEL} AS held ON held.client_key = facts.client_key"
        " AND held.client_source IS NOT DISTINCT FROM facts.client_source"
        " GROUP BY facts._upload_id"
    ).fetchall()
    return {upload_id: int(count) for upload_id, count in rows}


#: How close a client's name must be to a held key to be suggested (Jaro-Winkler, 0..1).
SUGGESTION_FLOOR = 0.8


def held_keys_with_suggestions(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Every held key with its rows per fact and the client whose name is closest to the key
    (Jaro-Winkler on lower-cased names, at least SUGGESTION_FLOOR; none below), for the
    review queue's identity items. A key that is a vendor id (a tenant GUID) gets none."""
    if not has_intermediate_model(con, HELD_TABLE):
        return []
    rows = con.execute(
        f"""
        WITH clients AS (
            SELECT DISTINCT client_id, client_name FROM raw.clients
            WHERE client_id IS NOT NULL AND client_name IS NOT NULL
        ),
        ranked AS (
            SELECT held.*, clients.client_id AS suggested_client_id,
                clients.client_name AS suggested_client_name,
                jaro_winkler_similarity(lower(held.client_key), lower(clients.client_name))
                    AS similarity
            FROM {HELD_MODEL} AS held LEFT JOIN clients ON true
            QUALIFY row_number() OVER (
                PARTITION BY held.client_source, held.client_key
                ORDER BY similarity DESC NULLS LAST, clients.client_id
            ) = 1
        )
        SELECT client_source, client_key, CAST(held_rows AS BIGINT),
            CAST(time_entry_rows AS BIGINT), CAST(invoice_line_rows AS BIGINT),
            CAST(expense_rows AS BIGINT), CAST(license_fact_rows AS BIGINT),
            CASE WHEN similarity >= ? THEN suggested_client_id END,
            CASE WHEN similarity >= ? THEN suggested_client_name END,
            CASE WHEN similarity >= ? THEN round(similarity, 3) END
        FROM ranked ORDER BY held_rows DESC, client_source, client_key
        """,
        [SUGGESTION_FLOOR] * 3,
    ).fetchall()
    names = (
        "client_source", "client_key", "held_rows", "time_entry_rows", "invoice_line_rows",
        "expense_rows", "license_fact_rows", "suggested_client_id", "suggested_client_name",
        "similarity",
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]
