"""The action list: what to do first, ranked by its monthly money effect (issue 16, point 5).

One DuckDB statement over the marts and their trust scores of the last complete month (the
month the console opens on: a month still arriving would make every client look underpriced)
writes ``insights.actions``, published as ``marts.actions``. Each action names the mart rows
it comes from (``source_mart`` and their key columns) and carries their confidence, so an
owner can see why it is there and how far to trust it:

- **reclaim_seats**: a license row recommended for reclaim (unused seats, utilisation under
  80 %): the effect is its monthly waste, what the MSP pays for seats nobody uses;
- **bill_seats**: a license row with assigned seats the client is not billed for: the effect
  is its monthly leakage;
- **reprice_client**: a client whose gross margin over the last 3 complete months is under the
  target (``MOATMETRICS_TARGET_MARGIN``): the price that would reach it is the months' average
  cost / (1 - target); the effect is that price less the average revenue;
- **follow_up_client**: a client with an elevated or high churn risk: the effect is the
  revenue expected to be lost, churn risk x its average monthly revenue.

The confidence of a license action is its row's; of a client action, the mean confidence of
the client's rows in the window (the churn model's own quality is published beside its
scores, in ``meta.churn_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from moatmetrics.marts import ACTIONS_TABLE as ACTIONS_TABLE
from moatmetrics.marts import INSIGHTS_SCHEMA as SCHEMA
from moatmetrics.trust import formatting
from moatmetrics.trust.scoring import last_complete_month
from moatmetrics.trust.tables import RISK_TABLE, scores_table
from moatmetrics.trust.tables import SCHEMA as TRUST_SCHEMA

if TYPE_CHECKING:
    import duckdb

    from moatmetrics.settings import Settings

#: Months the client actions average over (the last complete one and those before it).
WINDOW_MONTHS = 3

#: insights.actions, in order, with their DuckDB types (published as marts.actions).
ACTION_COLUMNS: dict[str, str] = {
    "action_rank": "BIGINT",
    "action": "VARCHAR",
    "client_id": "VARCHAR",
    "client_name": "VARCHAR",
    "vendor": "VARCHAR",
    "product": "VARCHAR",
    "month": "DATE",
    "monthly_effect": "DECIMAL(18, 2)",
    "confidence": "DOUBLE",
    "explanation": "VARCHAR",
    "source_mart": "VARCHAR",
}


@dataclass(frozen=True)
class ActionRun:
    month: str | None  # the month the actions are for; None without any data
    counts: dict[str, int]  # actions per kind
    monthly_effect: float  # their effects summed


def _actions_sql(target_margin: float) -> str:
    scores = f"{TRUST_SCHEMA}.{scores_table('license_utilization')}"
    client_scores = f"{TRUST_SCHEMA}.{scores_table('client_profitability')}"
    risk = f"{TRUST_SCHEMA}.{RISK_TABLE}"
    target = repr(float(target_margin))
    return f"""
    WITH
    month_shown AS (SELECT CAST(? AS DATE) AS month),
    client_names AS (
        SELECT client_id, arg_max(client_name, month) AS client_name
        FROM marts.client_profitability GROUP BY client_id
    ),
    licenses AS (
        SELECT l.*, s.confidence, coalesce(n.client_name, l.client_id) AS shown_client,
            l.product || coalesce(' (' || l.vendor || ')', '') AS shown_product
        FROM marts.license_utilization AS l
        JOIN month_shown USING (month)
        LEFT JOIN {scores} AS s
            ON s.client_id = l.client_id AND s.vendor IS NOT DISTINCT FROM l.vendor
            AND s.product = l.product AND s.month = l.month
        LEFT JOIN client_names AS n ON n.client_id = l.client_id
    ),
    reclaim AS (
        SELECT 'reclaim_seats' AS action, client_id, vendor, product, month,
            monthly_waste AS monthly_effect, confidence,
            'Reclaim ' || mm_count(unused_seats, 'unused seat') || ' of ' || shown_product
                || ' at ' || shown_client || ': ' || mm_money(monthly_waste)
                || ' a month (' || mm_percent(utilization_rate) || ' of '
                || mm_count(seats_purchased, 'seat') || ' active in '
                || strftime(month, '%B %Y') || ').' AS explanation,
            'license_utilization' AS source_mart
        FROM licenses
        WHERE recommendation = 'reclaim' AND monthly_waste > 0
    ),
    bill AS (
        SELECT 'bill_seats', client_id, vendor, product, month, monthly_leakage, confidence,
            'Bill ' || shown_client || ' for ' || mm_count(unbilled_seats, 'unbilled seat')
                || ' of ' || shown_product || ': ' || mm_money(monthly_leakage)
                || ' a month (' || mm_integer(seats_assigned) || ' assigned, '
                || mm_integer(seats_billed) || ' billed in ' || strftime(month, '%B %Y') || ').',
            'license_utilization'
        FROM licenses
        WHERE unbilled_seats > 0 AND monthly_leakage > 0
    ),
    client_window AS (
        SELECT p.client_id, count(*) AS months, avg(p.revenue) AS revenue,
            avg(p.total_cost) AS total_cost, sum(p.gross_profit) AS gross_profit,
            sum(p.revenue) AS window_revenue, avg(s.confidence) AS confidence
        FROM marts.client_profitability AS p
        CROSS JOIN month_shown
        LEFT JOIN {client_scores} AS s ON s.client_id = p.client_id AND s.month = p.month
        WHERE p.month > month_shown.month - INTERVAL {WINDOW_MONTHS} MONTH
            AND p.month <= month_shown.month
            AND p.client_id IN (
                SELECT client_id FROM marts.client_profitability
                WHERE month = (SELECT month FROM month_shown)
            )
        GROUP BY p.client_id
    ),
    reprice AS (
        SELECT 'reprice_client', w.client_id, NULL, NULL, m.month,
            w.total_cost / (1 - {target}) - w.revenue, w.confidence,
            'Reprice ' || coalesce(n.client_name, w.client_id) || ': at '
                || mm_money(w.total_cost / (1 - {target})) || ' a month (now '
                || mm_money(w.revenue) || ', costs ' || mm_money(w.total_cost)
                || ') the margin would reach the target ' || mm_percent({target})
                || ' instead of ' || mm_percent(w.gross_profit / w.window_revenue)
                || ' over ' || CASE WHEN w.months = 1 THEN strftime(m.month, '%B %Y')
                    ELSE 'the ' || mm_integer(w.months) || ' months to '
                        || strftime(m.month, '%B %Y') END
                || ': ' || mm_signed_money(w.total_cost / (1 - {target}) - w.revenue)
                || ' a month.',
            'client_profitability'
        FROM client_window AS w
        CROSS JOIN month_shown AS m
        LEFT JOIN client_names AS n ON n.client_id = w.client_id
        WHERE w.window_revenue > 0 AND w.gross_profit / w.window_revenue < {target}
    ),
    follow_up AS (
        SELECT 'follow_up_client', r.client_id, NULL, NULL, m.month,
            r.churn_risk * w.revenue, w.confidence,
            'Follow up ' || coalesce(n.client_name, r.client_id) || ': '
                || mm_percent(r.churn_risk) || ' chance of leaving within three months ('
                || r.risk_band || ' risk); ' || mm_money(w.revenue)
                || ' a month of revenue at stake, ' || mm_money(r.churn_risk * w.revenue)
                || ' expected to be lost.',
            'client_risk'
        FROM {risk} AS r
        CROSS JOIN month_shown AS m
        JOIN client_window AS w ON w.client_id = r.client_id
        LEFT JOIN client_names AS n ON n.client_id = r.client_id
        WHERE r.risk_band IN ('high', 'elevated') AND w.revenue > 0
    ),
    actions AS (
        SELECT * FROM reclaim UNION ALL SELECT * FROM bill
        UNION ALL SELECT * FROM reprice UNION ALL SELECT * FROM follow_up
    )
    SELECT
        row_number() OVER (
            ORDER BY round(monthly_effect, 2) DESC, confidence DESC NULLS LAST, action,
                a.client_id, vendor NULLS FIRST, product NULLS FIRST
        ) AS action_rank,
        action, a.client_id, coalesce(n.client_name, a.client_id) AS client_name, vendor,
        product, month, CAST(round(monthly_effect, 2) AS DECIMAL(18, 2)) AS monthly_effect,
        round(confidence, 4) AS confidence, explanation, source_mart
    FROM actions AS a
    LEFT JOIN client_names AS n ON n.client_id = a.client_id
    ORDER BY action_rank
    """


def run_actions(con: duckdb.DuckDBPyConnection, settings: Settings) -> ActionRun:
    """Replace ``insights.actions`` with the actions of the last complete month."""
    month = last_complete_month(con)
    if month is None:  # no complete month yet: the newest there is
        ((month,),) = con.execute("SELECT max(month) FROM marts.client_profitability").fetchall()
    formatting.install_macros(con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    columns = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in ACTION_COLUMNS.items())
    con.execute(
        f"CREATE OR REPLACE TABLE {SCHEMA}.{ACTIONS_TABLE} AS"
        f" SELECT {columns} FROM ({_actions_sql(settings.target_margin)})",
        [month],
    )
    counts = dict(
        con.execute(
            f"SELECT action, count(*) FROM {SCHEMA}.{ACTIONS_TABLE} GROUP BY action"
        ).fetchall()
    )
    ((effect,),) = con.execute(
        f"SELECT coalesce(sum(monthly_effect), 0) FROM {SCHEMA}.{ACTIONS_TABLE}"
    ).fetchall()
    return ActionRun(
        month=month.isoformat() if month else None, counts=counts, monthly_effect=float(effect)
    )
