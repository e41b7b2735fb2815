"""A warehouse made before the contract v2 columns and entities still builds: opening it
adds the new columns to the existing raw tables (empty) and creates the mapping tables, so
dbt, which reads them, never meets a missing column."""

from __future__ import annotations

import duckdb

from moatmetrics.contract.entities import ENTITIES
from moatmetrics.ingest.loader import Ingestor
from moatmetrics.settings import Settings


def test_old_raw_tables_gain_the_new_columns(home: Settings) -> None:
    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(
            "CREATE TABLE raw.time_entries AS SELECT 'T1' AS entry_id, 'S1' AS staff_id,"
            " 'C1' AS client_id, DATE '2026-03-02' AS work_date, 1.5::DECIMAL(18,4) AS hours,"
            " TRUE AS billable, NULL::VARCHAR AS work_type, NULL::VARCHAR AS ticket_id,"
            " NULL::DECIMAL(18,4) AS bill_rate, 'u1' AS _upload_id, 2::BIGINT AS _row_number"
        )
        Ingestor(con, home)
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw'"
                " AND table_name = 'time_entries'"
            ).fetchall()
        ]
        assert set(ENTITIES["time_entries"].column_names) <= set(columns)
        assert con.execute(
            "SELECT entry_id, hours, billing_option, client_key FROM raw.time_entries"
        ).fetchall() == [("T1", 1.5, None, None)]
        for name in ("client_aliases", "product_map", "account_map"):
            assert con.execute(f"SELECT count(*) FROM raw.{name}").fetchone() == (0,)
