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
  revenue expected to be lost, churn risk x its average monthly revenue;
- **rebalance_technician**: a staff member who is overloaded (logged over 110 % of available
  hours) while others have spare capacity under their billable target: the hours that can move
  (the overtime, as far as the team's spare hours reach, the largest overtime first), and the
  effect is the overtime premium they stop costing: hours x the person's hourly cost x
  ``MOATMETRICS_OVERTIME_PREMIUM`` (default 0.5, time and a half; 0 when overtime is unpaid,
  which keeps the action but puts no money on it).

The confidence of a license or staff action is its row's; of a client action, the mean
confidence of the client's rows in the window (the churn model's own quality is published beside its
scores, in ``meta.churn_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from moatmetrics.marts import ACTIONS_TABLE, RISK_TABLE
from moatmetrics.marts import INSIGHTS_SCHEMA as SCHEMA
from moatmetrics.trust import formatting
from moatmetrics.trust.scoring import last_complete_month
from moatmetrics.trust.tables import SCHEMA as TRUST_SCHEMA
from moatmetrics.trust.tables import scores_table

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
    "staff_id": "VARCHAR",
    "staff_name": "VARCHAR",
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


def _actions_sql(target_margin: float, overtime_premium: float) -> str:
    scores = f"{TRUST_SCHEMA}.{scores_table('license_utilization')}"
    client_scores = f"{TRUST_SCHEMA}.{scores_table('client_profitability')}"
    staff_scores = f"{TRUST_SCHEMA}.{scores_table('staff_utilization')}"
    risk = f"{TRUST_SCHEMA}.{RISK_TABLE}"
    target = repr(float(target_margin))
    premium = repr(float(overtime_premium))
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
        SELECT 'reclaim_seats' AS action, client_id, vendor, product, NULL AS staff_id, month,
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
        SELECT 'bill_seats', client_id, vendor, product, NULL, month, monthly_leakage, confidence,
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
        SELECT 'reprice_client', w.client_id, NULL, NULL, NULL, m.month,
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
        SELECT 'follow_up_client', r.client_id, NULL, NULL, NULL, m.month,
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
    staff_month AS (
        SELECT u.staff_id, coalesce(u.staff_name, u.staff_id) AS shown_staff, u.month,
            u.available_hours, u.logged_hours, u.overtime_hours, u.capacity_gap_hours, u.band,
            s.confidence, CAST(c.hourly_cost AS DOUBLE) AS hourly_cost
        FROM marts.staff_utilization AS u
        JOIN month_shown USING (month)
        LEFT JOIN {staff_scores} AS s ON s.staff_id = u.staff_id AND s.month = u.month
        LEFT JOIN intermediate.int_staff_members_corrected AS c ON c.staff_id = u.staff_id
    ),
    spare AS (
        SELECT coalesce(sum(capacity_gap_hours), 0) AS hours, count(*) AS people
        FROM staff_month WHERE capacity_gap_hours > 0 AND band IS DISTINCT FROM 'overloaded'
    ),
    overloaded AS (
        SELECT *, coalesce(sum(overtime_hours) OVER (
                ORDER BY overtime_hours DESC, staff_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS moved_before
        FROM staff_month WHERE band = 'overloaded' AND overtime_hours > 0
    ),
    movable AS (
        SELECT o.*, greatest(least(o.overtime_hours, spare.hours - o.moved_before), 0) AS moved,
            spare.hours AS spare_hours, spare.people AS spare_people
        FROM overloaded AS o CROSS JOIN spare
    ),
    rebalance AS (
        SELECT 'rebalance_technician', NULL, NULL, NULL, staff_id, month,
            moved * coalesce(hourly_cost, 0) * {premium}, confidence,
            'Rebalance ' || shown_staff || ': ' || mm_decimal1(logged_hours) || ' h logged of '
                || mm_decimal1(available_hours) || ' h available in ' || strftime(month, '%B %Y')
                || ' (' || mm_decimal1(overtime_hours) || ' h over); '
                || mm_count(spare_people, 'colleague') || ' under their billable target have '
                || mm_decimal1(spare_hours) || ' h spare: moving ' || mm_decimal1(moved)
                || ' h saves ' || mm_money(moved * coalesce(hourly_cost, 0) * {premium})
                || ' a month of overtime premium ('
                || mm_percent({premium}) || ' of '
                || CASE WHEN hourly_cost IS NULL THEN 'an unknown hourly cost'
                    ELSE mm_money(hourly_cost) || ' an hour' END || ').',
            'staff_utilization'
        FROM movable WHERE moved > 0
    ),
    actions AS (
        SELECT * FROM reclaim UNION ALL SELECT * FROM bill
        UNION ALL SELECT * FROM reprice UNION ALL SELECT * FROM follow_up
        UNION ALL SELECT * FROM rebalance
    )
    SELECT
        row_number() OVER (
            ORDER BY round(monthly_effect, 2) DESC, confidence DESC NULLS LAST, action,
                a.client_id, vendor NULLS FIRST, product NULLS FIRST, a.staff_id
        ) AS action_rank,
        action, a.client_id, coalesce(n.client_name, a.client_id) AS client_name, vendor,
        product, a.staff_id, st.shown_staff AS staff_name, a.month,
        CAST(round(monthly_effect, 2) AS DECIMAL(18, 2)) AS monthly_effect,
        round(confidence, 4) AS confidence, explanation, source_mart
    FROM actions AS a
    LEFT JOIN client_names AS n ON n.client_id = a.client_id
    LEFT JOIN (SELECT staff_id, shown_staff FROM staff_month) AS st ON st.staff_id = a.staff_id
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
    query = _actions_sql(settings.target_margin, settings.overtime_premium)
    con.execute(
        f"CREATE OR REPLACE TABLE {SCHEMA}.{ACTIONS_TABLE} AS SELECT {columns} FROM ({query})",
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
