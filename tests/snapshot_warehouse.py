"""A warehouse as a good run leaves it, in miniature: what publishing snapshots needs.

Two marts and the uploads table, with values that encode a generation number so a test can
tell snapshots apart; no dbt, no trust tables (publish then copies the marts as they are).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from moatmetrics.settings import Settings

MARTS = ("client_profitability", "staff_utilization")


def small_warehouse(settings: Settings, generation: int) -> None:
    """The marts and uploads a good run leaves, values encoding the generation."""
    settings.warehouse_path.unlink(missing_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA ingest")
        con.execute(
            "CREATE TABLE marts.client_profitability (client_id VARCHAR, month DATE,"
            " revenue DECIMAL(18, 2), gross_margin DOUBLE, explanation VARCHAR)"
        )
        con.executemany(
            "INSERT INTO marts.client_profitability VALUES (?, ?, ?, ?, ?)",
            [
                ("C1", date(2024, 1, 1), Decimal("1000.50") + generation, 1 / 3, ""),
                ("C2", date(2024, 1, 1), Decimal("0.00"), None, f'gen "{generation}",\nx'),
                ("C3", None, None, float("inf"), None),
            ],
        )
        con.execute(
            "CREATE TABLE marts.staff_utilization (staff_id VARCHAR, month DATE,"
            " logged_hours DECIMAL(18, 2), band VARCHAR)"
        )
        con.execute(f"INSERT INTO marts.staff_utilization VALUES ('S1', '2024-01-01', {generation},"
                    " 'near')")  # fmt: skip
        con.execute(
            "CREATE TABLE ingest.uploads (upload_id VARCHAR, upload_seq BIGINT, sha256 VARCHAR,"
            " file_name VARCHAR, entity VARCHAR, row_count BIGINT, uploaded_at TIMESTAMPTZ,"
            " status VARCHAR)"
        )
        con.execute("INSERT INTO ingest.uploads VALUES ('u1', 1, 'ab', 'clients.csv',"
                    " 'clients', 3, now(), 'accepted')")  # fmt: skip
