"""Accounts no account_map row maps, as the last dbt build left them (dbt model
int_invoice_accounts_unmapped, docs/sources.md "Mapping uploads").

An accounting export's lines carry the MSP's account codes (or, in QuickBooks, item names),
not our categories; an unmapped one counts as `other`, which is never recurring revenue. That
is a silent change of meaning unless someone is told, so the run's summary names each such
account with its lines and amount and the fix (an account_map row).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from moatmetrics.settings import Settings
from moatmetrics.warehouse.held_clients import has_intermediate_model

UNMAPPED_MODEL = "int_invoice_accounts_unmapped"


def unmapped_invoice_accounts(settings: Settings) -> list[tuple[str, str, int, Decimal]]:
    """(client_source, account, invoice lines, amount) of every unmapped account."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        if not has_intermediate_model(con, UNMAPPED_MODEL):
            return []
        rows = con.execute(
            "SELECT client_source, account, CAST(invoice_lines AS BIGINT), amount"
            f" FROM intermediate.{UNMAPPED_MODEL}"
            " ORDER BY client_source, account NULLS LAST"
        ).fetchall()
    return [(source, account, int(lines), amount) for source, account, lines, amount in rows]
