"""What a run tells its user beyond the numbers, as the last dbt build left it: accounts no
account_map row maps (dbt model int_invoice_accounts_unmapped) and license bills left out of
cost (int_expenses_excluded). Both change what a number means without anything failing, so
`moatmetrics run` names each one with the fix or the reason (docs/sources.md, metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from moatmetrics.at_rest.duckdb_files import connect_duckdb
from moatmetrics.settings import Settings
from moatmetrics.warehouse.held_clients import has_intermediate_model

UNMAPPED_MODEL = "int_invoice_accounts_unmapped"
EXCLUDED_MODEL = "int_expenses_excluded"


@dataclass(frozen=True)
class LeftOutBill:
    expense_id: str
    client_id: str | None
    expense_date: date
    amount: Decimal
    supplier: str | None
    reason: str


@dataclass
class RunFindings:
    # vendor invoice accounts no account_map row maps: (source, account, lines, amount)
    unmapped_accounts: list[tuple[str, str, int, Decimal]] = field(default_factory=list)
    # license bills left out of cost (never counted twice)
    left_out_bills: list[LeftOutBill] = field(default_factory=list)


def read_run_findings(settings: Settings) -> RunFindings:
    findings = RunFindings()
    with connect_duckdb(settings.warehouse_path, settings, read_only=True) as con:
        if has_intermediate_model(con, UNMAPPED_MODEL):
            rows = con.execute(
                "SELECT client_source, account, CAST(invoice_lines AS BIGINT), amount"
                f" FROM intermediate.{UNMAPPED_MODEL} ORDER BY client_source, account NULLS LAST"
            ).fetchall()
            findings.unmapped_accounts = [(s, a, int(n), amount) for s, a, n, amount in rows]
        if has_intermediate_model(con, EXCLUDED_MODEL):
            rows = con.execute(
                "SELECT expense_id, client_id, expense_date, amount, supplier, left_out_reason"
                f" FROM intermediate.{EXCLUDED_MODEL} ORDER BY expense_date, expense_id"
            ).fetchall()
            findings.left_out_bills = [LeftOutBill(*row) for row in rows]
    return findings
