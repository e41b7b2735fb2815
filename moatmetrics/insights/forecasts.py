"""Forecasts of the next three months, each with its backtested accuracy (issue 16, point 3).

An MSP owner plans hiring and pricing a quarter ahead: will client work outgrow the team, and
which client's revenue is slipping? ``run_forecasts`` writes ``insights.forecasts`` (published
as ``marts.forecasts``) from the marts of the complete months, in DuckDB SQL over whole
columns:

- **client labour hours** and **staff billable hours**: the series' median per working day
  (Monday to Friday) over its last 12 months, times the working days of the month forecast,
  so a 23-day month gets more hours than a 20-day one;
- **client revenue**: the median of its last 6 months (recurring fees change rarely).

A median, not a mean: one odd month (a missed invoice, a one-off project, a crunch) moves a
mean as far as its size and the next three forecasts with it, a median hardly at all. On the
demo data, whose planted anomalies are exactly such months, it gives client revenue a median
MASE of 0.77 where the mean gave 0.99.
- **staff capacity** (available hours): not a statistical forecast but the contract (weekly
  hours x working days employed, a known end date included) less the member's usual absence
  share over the last 12 months;
- **team capacity**: the forecast client work (client labour hours summed) against the team's
  client-work capacity (each member's capacity x billable target), month by month, saying when
  demand exceeds it and by how much.

Accuracy is measured, not assumed: each series is **backtested** from rolling origins over the
last 6 complete months (forecasting 1-3 months ahead from each, with only the data before the
origin), and its **MASE** (mean absolute scaled error) published beside the forecast: the
backtest's mean absolute error divided by that of the seasonal-naive forecast (the same month a
year earlier) over the series' history. Below 1 beats seasonal naive. The 80 % prediction
interval is the forecast +/- 1.2816 x the backtest's root mean squared error at that horizon
(normal errors assumed; lower bound 0). The confidence is 1 - the backtest's weighted absolute
percentage error (0 when not backtested). A series with fewer than 6 months of values in its
window is not forecast: its rows say so. Only series with a value in the last complete month
(active clients and staff) are forecast.

Everything a forecast reads is of the months up to the origin, or the staff's contracts: a
day's upload into the month still arriving changes none of it. Each run fingerprints those
rows, the origin and the code (`_inputs_fingerprint`); when the fingerprint is the one the
table was computed from (``insights.forecast_inputs``), the table is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from moatmetrics.at_rest.duckdb_files import transaction
from moatmetrics.canonical import digest
from moatmetrics.fingerprints import code_digest, record_inputs, recorded_inputs, rows_fingerprint
from moatmetrics.marts import FORECASTS_TABLE, INSIGHT_ORDERS
from moatmetrics.marts import INSIGHTS_SCHEMA as SCHEMA
from moatmetrics.trust import formatting
from moatmetrics.trust.scoring import last_complete_month

if TYPE_CHECKING:
    import duckdb

#: Months forecast after the last complete month.
HORIZON_MONTHS = 3
#: Rolling backtest origins: the last complete months before the newest one, each forecasting
#: up to HORIZON_MONTHS ahead within the known history.
BACKTEST_ORIGINS = 6
#: Values a series needs in its window to be forecast (at an origin or today).
HISTORY_MONTHS_NEEDED = 6
#: The seasonal-naive forecast repeats the value of this many months before.
SEASON_MONTHS = 12
#: Year-on-year pairs a series needs for its MASE scale.
SEASONAL_PAIRS_NEEDED = 6
#: Backtest errors at a horizon needed for its prediction interval.
INTERVAL_ERRORS_NEEDED = 3
#: Standard normal quantile of an 80 % two-sided interval.
INTERVAL_Z = 1.2816
#: Months of absence history behind a staff member's capacity.
ABSENCE_MONTHS = 12


@dataclass(frozen=True)
class ForecastSeries:
    """A forecast metric: where it comes from and how its level is taken."""

    entity_type: str  # client or staff
    metric: str  # column of the source mart
    label: str
    unit: str  # hours or money
    window_months: int  # months the level is the median of
    per_working_day: bool  # median per working day x working days of the month forecast


SERIES: tuple[ForecastSeries, ...] = (
    ForecastSeries("client", "labor_hours", "Labour hours", "hours", 12, True),
    ForecastSeries("client", "revenue", "Revenue", "money", 6, False),
    ForecastSeries("staff", "billable_hours", "Billable hours", "hours", 12, True),
)

#: insights.forecasts, in order, with their DuckDB types (published as marts.forecasts).
FORECAST_COLUMNS: dict[str, str] = {
    "entity_type": "VARCHAR",
    "entity_key": "VARCHAR",
    "client_id": "VARCHAR",
    "staff_id": "VARCHAR",
    "name": "VARCHAR",
    "metric": "VARCHAR",
    "label": "VARCHAR",
    "unit": "VARCHAR",
    "origin_month": "DATE",
    "forecast_month": "DATE",
    "horizon": "INTEGER",
    "status": "VARCHAR",
    "forecast": "DECIMAL(18, 2)",
    "lower_80": "DECIMAL(18, 2)",
    "upper_80": "DECIMAL(18, 2)",
    "last_value": "DECIMAL(18, 2)",
    "history_months": "INTEGER",
    "method": "VARCHAR",
    "backtest_forecasts": "INTEGER",
    "mase": "DECIMAL(18, 4)",
    "confidence": "DOUBLE",
    "explanation": "VARCHAR",
}

#: The grain (and publishing order) of marts.forecasts.
FORECAST_GRAIN = INSIGHT_ORDERS[FORECASTS_TABLE]
#: What insights.forecasts was computed from: the fingerprint of its inputs.
INPUTS_TABLE = "forecast_inputs"


@dataclass(frozen=True)
class ForecastRun:
    origin_month: str | None  # the last complete month; None without any data
    series: int  # series forecast (status forecast)
    too_little_history: int  # series not forecast
    median_mase: dict[str, float]  # per metric, over the series with a MASE
    first_shortfall: str | None  # the first month client work exceeds team capacity
    recomputed: bool = True  # False: the table was kept, its inputs unchanged


def _series_values() -> str:
    rows = ", ".join(
        f"('{s.entity_type}', '{s.metric}', '{s.label}', '{s.unit}', {s.window_months}, "
        f"{str(s.per_working_day).upper()})"
        for s in SERIES
    )
    return (
        f"SELECT * FROM (VALUES {rows}) AS t(entity_type, metric, label, unit, window_months,"
        " per_working_day)"
    )


def _history_sql() -> str:
    """Every series value of the complete months, keyed by entity and metric."""
    parts = []
    for s in SERIES:
        if s.entity_type == "client":
            parts.append(
                f"SELECT 'client' AS entity_type, client_id AS entity_key, client_id,"
                f" NULL AS staff_id, client_name AS name, '{s.metric}' AS metric, month,"
                f" CAST({s.metric} AS DOUBLE) AS value FROM marts.client_profitability"
                f" WHERE {s.metric} IS NOT NULL"
            )
        else:
            parts.append(
                f"SELECT 'staff', staff_id, NULL, staff_id, staff_name, '{s.metric}', month,"
                f" CAST({s.metric} AS DOUBLE) FROM marts.staff_utilization"
                f" WHERE {s.metric} IS NOT NULL"
            )
    return " UNION ALL ".join(parts)


def _statements() -> list[str]:
    """The SQL, one temp table a step, so each step can be read (and queried) on its own.

    Each statement that names ``$origin`` takes the origin, the last complete month.
    """
    month_number = "(year(month) - 2000) * 12 + month(month)"
    return [
        # Working days of every month from the first with data to the last forecast.
        f"""
        CREATE OR REPLACE TEMP TABLE fc_days AS
        SELECT CAST(d AS DATE) AS day, CAST(date_trunc('month', d) AS DATE) AS month,
            isodow(d) <= 5 AS is_working_day
        FROM range(
            (SELECT least(
                (SELECT min(month) FROM marts.client_profitability),
                (SELECT min(month) FROM marts.staff_utilization),
                CAST($origin AS DATE)
            )),
            CAST($origin AS DATE) + INTERVAL {HORIZON_MONTHS + 1} MONTH,
            INTERVAL 1 DAY
        ) AS t(d)
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE fc_months AS
        SELECT month, {month_number} AS month_number,
            count(*) FILTER (WHERE is_working_day) AS working_days
        FROM fc_days GROUP BY month
        """,
        f"CREATE OR REPLACE TEMP TABLE fc_series AS {_series_values()}",
        # Values of the complete months only, with the rate the level is the median of.
        f"""
        CREATE OR REPLACE TEMP TABLE fc_history AS
        SELECT h.*, m.month_number, s.label, s.unit, s.window_months, s.per_working_day,
            h.value / CASE WHEN s.per_working_day THEN m.working_days ELSE 1 END AS rate
        FROM ({_history_sql()}) AS h
        JOIN fc_series AS s USING (entity_type, metric)
        JOIN fc_months AS m USING (month)
        WHERE h.month <= CAST($origin AS DATE)
        """,
        """
        CREATE OR REPLACE TEMP TABLE fc_origin AS
        SELECT month_number AS origin_number FROM fc_months WHERE month = CAST($origin AS DATE)
        """,
        # The months forecast: 1 to HORIZON_MONTHS after the origin (series, capacity, team).
        f"""
        CREATE OR REPLACE TEMP TABLE fc_ahead AS
        SELECT k AS horizon, m.month AS forecast_month, m.working_days
        FROM fc_origin AS o CROSS JOIN range(1, {HORIZON_MONTHS + 1}) AS t(k)
        JOIN fc_months AS m ON m.month_number = o.origin_number + k
        """,
        # The level of each series at each origin: the median rate over its window.
        f"""
        CREATE OR REPLACE TEMP TABLE fc_levels AS
        SELECT h.entity_type, h.entity_key, h.metric, o.origin_number,
            median(h.rate) AS level, count(*) AS history_months
        FROM fc_history AS h
        JOIN (
            SELECT origin_number - k AS origin_number
            FROM fc_origin, range(0, {BACKTEST_ORIGINS + 1}) AS t(k)
        ) AS o
            ON h.month_number <= o.origin_number
            AND h.month_number > o.origin_number - h.window_months
        GROUP BY ALL
        """,
        # Forecasts from every origin, 1 to HORIZON_MONTHS ahead.
        f"""
        CREATE OR REPLACE TEMP TABLE fc_points AS
        SELECT l.entity_type, l.entity_key, l.metric, l.origin_number, l.history_months,
            k AS horizon, l.origin_number + k AS target_number, l.level,
            m.working_days, m.month AS target_month,
            l.level * CASE WHEN s.per_working_day THEN m.working_days ELSE 1 END AS forecast
        FROM fc_levels AS l
        JOIN fc_series AS s USING (entity_type, metric)
        CROSS JOIN range(1, {HORIZON_MONTHS + 1}) AS t(k)
        JOIN fc_months AS m ON m.month_number = l.origin_number + k
        WHERE l.history_months >= {HISTORY_MONTHS_NEEDED}
        """,
        # The backtest: forecasts from past origins against the values that came.
        """
        CREATE OR REPLACE TEMP TABLE fc_errors AS
        SELECT p.entity_type, p.entity_key, p.metric, p.horizon, h.value AS actual,
            h.value - p.forecast AS error
        FROM fc_points AS p
        CROSS JOIN fc_origin AS o
        JOIN fc_history AS h
            ON h.entity_type = p.entity_type AND h.entity_key = p.entity_key
            AND h.metric = p.metric AND h.month_number = p.target_number
        WHERE p.origin_number < o.origin_number
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE fc_accuracy AS
        WITH seasonal AS (
            SELECT h.entity_type, h.entity_key, h.metric,
                avg(abs(h.value - y.value)) AS scale, count(*) AS pairs
            FROM fc_history AS h
            JOIN fc_history AS y
                ON y.entity_type = h.entity_type AND y.entity_key = h.entity_key
                AND y.metric = h.metric AND y.month_number = h.month_number - {SEASON_MONTHS}
            GROUP BY ALL
        ),
        backtest AS (
            SELECT entity_type, entity_key, metric, count(*) AS forecasts,
                avg(abs(error)) AS mae,
                sum(abs(error)) / nullif(sum(abs(actual)), 0) AS wape
            FROM fc_errors GROUP BY ALL
        )
        SELECT b.*, s.scale, s.pairs,
            CASE WHEN s.pairs >= {SEASONAL_PAIRS_NEEDED} AND s.scale > 0
                THEN b.mae / s.scale END AS mase
        FROM backtest AS b
        LEFT JOIN seasonal AS s USING (entity_type, entity_key, metric)
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE fc_spread AS
        SELECT entity_type, entity_key, metric, horizon, sqrt(avg(error * error)) AS rmse
        FROM fc_errors GROUP BY ALL HAVING count(*) >= {INTERVAL_ERRORS_NEEDED}
        """,
    ]


def _series_rows_sql() -> str:
    """Forecast rows of the active client and staff series (value in the origin month)."""
    return f"""
    WITH active AS (
        SELECT h.entity_type, h.entity_key, h.client_id, h.staff_id, h.name, h.metric,
            h.label, h.unit, h.window_months, h.per_working_day, h.value AS last_value
        FROM fc_history AS h CROSS JOIN fc_origin AS o
        WHERE h.month_number = o.origin_number
    ),
    today AS (
        SELECT l.* FROM fc_levels AS l JOIN fc_origin AS o USING (origin_number)
    ),
    rows AS (
        SELECT a.*, m.horizon, m.forecast_month, m.working_days, t.level,
            coalesce(t.history_months, 0) AS history_months,
            t.history_months >= {HISTORY_MONTHS_NEEDED} AS is_forecast,
            t.level * CASE WHEN a.per_working_day THEN m.working_days ELSE 1 END AS forecast,
            acc.forecasts AS backtest_forecasts, acc.mase, acc.wape,
            {INTERVAL_Z} * sp.rmse AS half_width
        FROM active AS a
        CROSS JOIN fc_ahead AS m
        LEFT JOIN today AS t USING (entity_type, entity_key, metric)
        LEFT JOIN fc_accuracy AS acc USING (entity_type, entity_key, metric)
        LEFT JOIN fc_spread AS sp
            ON sp.entity_type = a.entity_type AND sp.entity_key = a.entity_key
            AND sp.metric = a.metric AND sp.horizon = m.horizon
    )
    SELECT entity_type, entity_key, client_id, staff_id, name, metric, label, unit,
        CAST($origin AS DATE) AS origin_month, forecast_month, horizon,
        CASE WHEN is_forecast THEN 'forecast' ELSE 'too_little_history' END AS status,
        CASE WHEN is_forecast THEN forecast END AS forecast,
        CASE WHEN is_forecast AND half_width IS NOT NULL
            THEN greatest(forecast - half_width, 0) END AS lower_80,
        CASE WHEN is_forecast THEN forecast + half_width END AS upper_80,
        last_value, history_months,
        CASE WHEN per_working_day
            THEN 'median per working day over ' || window_months || ' months'
            ELSE 'median over ' || window_months || ' months' END AS method,
        CASE WHEN is_forecast THEN coalesce(backtest_forecasts, 0) ELSE 0 END
            AS backtest_forecasts,
        CASE WHEN is_forecast THEN mase END AS mase,
        CASE WHEN is_forecast AND wape IS NOT NULL THEN round(greatest(1 - wape, 0), 4)
            ELSE 0 END AS confidence,
        CASE WHEN NOT coalesce(is_forecast, FALSE) THEN
            label || ' of ' || coalesce(name, entity_key) || ': not forecast, '
            || mm_count(history_months, 'month') || ' with a value in the last '
            || window_months || ', ' || {HISTORY_MONTHS_NEEDED} || ' needed.'
        ELSE
            label || ' of ' || coalesce(name, entity_key) || ' in '
            || strftime(forecast_month, '%B %Y') || ': ' || fc_amount(forecast, unit)
            || CASE WHEN half_width IS NOT NULL THEN ' (80% range '
                || fc_amount(greatest(forecast - half_width, 0), unit) || ' to '
                || fc_amount(forecast + half_width, unit) || ')' ELSE '' END
            || ', from '
            || CASE WHEN per_working_day
                THEN mm_decimal1(level) || ' h a working day over the last '
                    || mm_count(history_months, 'month') || ' x '
                    || working_days || ' working days'
                ELSE 'the median of the last ' || mm_count(history_months, 'month') END
            || '; ' || CASE
                WHEN coalesce(backtest_forecasts, 0) = 0 THEN 'not backtested yet.'
                WHEN mase IS NULL THEN 'backtest error '
                    || mm_percent(wape) || ' (under a year of history: no MASE).'
                ELSE 'backtest MASE ' || format('{{:.2f}}', mase)
                    || CASE WHEN mase < 1 THEN ' (better than' ELSE ' (not better than' END
                    || ' repeating last year''s month).' END
        END AS explanation
    FROM rows
    """


def _capacity_rows_sql() -> str:
    """Capacity rows of the active staff: contract less usual absence; and the team's."""
    return f"""
    WITH contracts AS (
        SELECT c.staff_id, CAST(c.weekly_hours AS DOUBLE) AS weekly_hours,
            CAST(c.billable_target AS DOUBLE) AS billable_target, c.start_date, c.end_date
        FROM intermediate.int_staff_members_corrected AS c
        WHERE c.weekly_hours IS NOT NULL
    ),
    employed_days AS (
        SELECT c.staff_id, d.month, count(*) AS working_days
        FROM contracts AS c
        JOIN fc_days AS d
            ON d.is_working_day
            AND d.day >= coalesce(c.start_date, d.day) AND d.day <= coalesce(c.end_date, d.day)
        GROUP BY ALL
    ),
    absence AS (
        SELECT u.staff_id, count(*) AS months,
            greatest(1 - sum(CAST(u.available_hours AS DOUBLE))
                / nullif(sum(c.weekly_hours / 5 * e.working_days), 0), 0) AS absence_share
        FROM marts.staff_utilization AS u
        JOIN contracts AS c USING (staff_id)
        JOIN employed_days AS e USING (staff_id, month)
        JOIN fc_months AS m USING (month)
        CROSS JOIN fc_origin AS o
        WHERE u.available_hours IS NOT NULL
            AND m.month_number > o.origin_number - {ABSENCE_MONTHS}
            AND m.month_number <= o.origin_number
        GROUP BY ALL
    ),
    active AS (
        SELECT u.staff_id, u.staff_name, CAST(u.available_hours AS DOUBLE) AS last_value
        FROM marts.staff_utilization AS u
        WHERE u.month = CAST($origin AS DATE) AND u.available_hours IS NOT NULL
    )
    SELECT 'staff' AS entity_type, a.staff_id AS entity_key, NULL AS client_id, a.staff_id,
        a.staff_name AS name, 'available_hours' AS metric, 'Capacity' AS label,
        'hours' AS unit, CAST($origin AS DATE) AS origin_month, m.forecast_month, m.horizon,
        'forecast' AS status,
        c.weekly_hours / 5 * coalesce(e.working_days, 0) * (1 - coalesce(ab.absence_share, 0))
            AS forecast,
        NULL AS lower_80, NULL AS upper_80, a.last_value,
        coalesce(ab.months, 0) AS history_months,
        'contract less usual absence' AS method, 0 AS backtest_forecasts, NULL AS mase,
        round(coalesce(ab.months, 0) / {ABSENCE_MONTHS}, 4) AS confidence,
        c.billable_target,
        'Capacity of ' || coalesce(a.staff_name, a.staff_id) || ' in '
            || strftime(m.forecast_month, '%B %Y') || ': '
            || fc_amount(c.weekly_hours / 5 * coalesce(e.working_days, 0)
                * (1 - coalesce(ab.absence_share, 0)), 'hours')
            || ' available (' || coalesce(e.working_days, 0) || ' of ' || m.working_days
            || ' working days employed at ' || mm_decimal1(c.weekly_hours) || ' h a week'
            || CASE WHEN c.end_date < m.forecast_month + INTERVAL 1 MONTH
                THEN ', leaving ' || strftime(c.end_date, '%-d %B %Y') ELSE '' END
            || ', less ' || mm_percent(coalesce(ab.absence_share, 0))
            || ' usual absence over the last ' || mm_count(coalesce(ab.months, 0), 'month')
            || ').' AS explanation
    FROM active AS a
    JOIN contracts AS c USING (staff_id)
    CROSS JOIN fc_ahead AS m
    LEFT JOIN employed_days AS e ON e.staff_id = a.staff_id AND e.month = m.forecast_month
    LEFT JOIN absence AS ab ON ab.staff_id = a.staff_id
    """


def _team_rows_sql() -> str:
    """Team rows: forecast client work against the team's client-work capacity, per month."""
    return """
    WITH demand AS (
        SELECT forecast_month, horizon, sum(forecast) AS hours,
            sum(forecast * confidence) / nullif(sum(forecast), 0) AS confidence,
            count(*) AS clients
        FROM fc_rows
        WHERE entity_type = 'client' AND metric = 'labor_hours' AND status = 'forecast'
        GROUP BY ALL
    ),
    capacity AS (
        SELECT forecast_month, sum(forecast * billable_target) AS hours,
            count(*) FILTER (WHERE forecast > 0) AS staff  -- who has left no longer counts
        FROM fc_capacity WHERE billable_target IS NOT NULL GROUP BY ALL
    ),
    team AS (
        SELECT m.forecast_month, m.horizon, coalesce(d.hours, 0) AS demand,
            coalesce(c.hours, 0) AS capacity, coalesce(d.confidence, 0) AS confidence,
            coalesce(d.clients, 0) AS clients, coalesce(c.staff, 0) AS staff
        FROM fc_ahead AS m
        LEFT JOIN demand AS d USING (forecast_month)
        LEFT JOIN capacity AS c USING (forecast_month)
    ),
    sentences AS (
        SELECT *, CASE WHEN capacity < demand THEN
                'At this trend, client work (' || fc_amount(demand, 'hours') || ' forecast for '
                || mm_count(clients, 'client') || ') exceeds the team''s client-work capacity ('
                || fc_amount(capacity, 'hours') || ': available hours x billable target of '
                || mm_count(staff, 'staff member') || ') in '
                || strftime(forecast_month, '%B %Y') || ' by '
                || fc_amount(demand - capacity, 'hours') || '.'
            ELSE
                'The team''s client-work capacity (' || fc_amount(capacity, 'hours')
                || ': available hours x billable target of ' || mm_count(staff, 'staff member')
                || ') '
                || 'covers the client work forecast for '
                || strftime(forecast_month, '%B %Y') || ' (' || fc_amount(demand, 'hours')
                || ' for ' || mm_count(clients, 'client') || ') with '
                || fc_amount(capacity - demand, 'hours') || ' to spare.'
            END AS explanation
        FROM team
    )
    SELECT 'team', 'team', NULL, NULL, 'Team', metric, label, 'hours',
        CAST($origin AS DATE), forecast_month, horizon, 'forecast', value, NULL, NULL, NULL,
        NULL, method, 0, NULL, round(confidence, 4), explanation
    FROM sentences,
    LATERAL (VALUES
        ('client_work_demand', 'Client work', demand, 'client labour hour forecasts summed'),
        ('client_work_capacity', 'Client-work capacity', capacity,
            'capacity x billable target summed'),
        ('capacity_gap', 'Spare capacity', capacity - demand, 'capacity less client work')
    ) AS v(metric, label, value, method)
    """


def run_forecasts(con: duckdb.DuckDBPyConnection) -> ForecastRun:
    """Replace ``insights.forecasts`` with the forecasts from the last complete month."""
    origin = last_complete_month(con)
    if origin is None:  # no complete month yet: the newest there is
        ((origin,),) = con.execute("SELECT max(month) FROM marts.client_profitability").fetchall()
    formatting.install_macros(con)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO fc_amount(v, unit) AS CASE WHEN unit = 'money'"
        " THEN mm_money(v) ELSE mm_integer(v) || ' h' END"
    )
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    columns = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in FORECAST_COLUMNS.items())
    order = ", ".join(FORECAST_GRAIN)
    if origin is None:
        with transaction(con):
            con.execute(
                f"CREATE OR REPLACE TABLE {SCHEMA}.{FORECASTS_TABLE} AS SELECT {columns} FROM"
                f" (SELECT {', '.join(f'NULL AS {c}' for c in FORECAST_COLUMNS)}) WHERE false"
            )
            con.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{INPUTS_TABLE}")
        return ForecastRun(None, 0, 0, {}, None)
    shown = ", ".join(FORECAST_COLUMNS)
    fingerprint = _inputs_fingerprint(con, origin)
    recorded = recorded_inputs(con, f"{SCHEMA}.{INPUTS_TABLE}")
    if recorded is not None and recorded["fingerprint"] == fingerprint:
        return _summary(con, origin, recomputed=False)
    for statement in [
        *_statements(),
        f"CREATE OR REPLACE TEMP TABLE fc_rows AS {_series_rows_sql()}",
        f"CREATE OR REPLACE TEMP TABLE fc_capacity AS {_capacity_rows_sql()}",
    ]:
        con.execute(statement, {"origin": origin} if "$origin" in statement else None)
    table = (
        f"CREATE OR REPLACE TABLE {SCHEMA}.{FORECASTS_TABLE} AS SELECT {columns} FROM ("
        f" SELECT {shown} FROM fc_rows UNION ALL SELECT {shown} FROM fc_capacity"
        f" UNION ALL SELECT * FROM ({_team_rows_sql()})) ORDER BY {order}"
    )
    with transaction(con):
        con.execute(table, {"origin": origin} if "$origin" in table else None)
        record_inputs(con, f"{SCHEMA}.{INPUTS_TABLE}", {"fingerprint": fingerprint})
    return _summary(con, origin, recomputed=True)


def _inputs_fingerprint(con: duckdb.DuckDBPyConnection, origin: date) -> str:
    """What the forecasts from `origin` read: the client and staff months up to it (whole
    rows), each mart's first month (where the calendar starts), the staff's contracts and the
    code. A change the forecasts would not see costs a recomputation, never a stale table."""
    parts = {"origin": origin.isoformat()}
    for mart in ("marts.client_profitability", "marts.staff_utilization"):
        parts[mart] = rows_fingerprint(
            con, f"SELECT * FROM {mart} WHERE month <= DATE '{origin.isoformat()}'"
        )
        parts[f"{mart}.first"] = rows_fingerprint(con, f"SELECT min(month) FROM {mart}")
    parts["contracts"] = rows_fingerprint(
        con, "SELECT * FROM intermediate.int_staff_members_corrected"
    )
    return digest({**parts, "code": code_digest()})


def _summary(con: duckdb.DuckDBPyConnection, origin: date, *, recomputed: bool) -> ForecastRun:
    table = f"{SCHEMA}.{FORECASTS_TABLE}"
    ((forecast, thin),) = con.execute(
        f"SELECT count(DISTINCT (entity_type, entity_key, metric)) FILTER (WHERE status ="
        f" 'forecast' AND entity_type <> 'team'), count(DISTINCT (entity_type, entity_key,"
        f" metric)) FILTER (WHERE status = 'too_little_history') FROM {table}"
    ).fetchall()
    medians = con.execute(
        f"SELECT entity_type || '.' || metric, median(mase) FROM {table}"
        f" WHERE horizon = 1 AND mase IS NOT NULL GROUP BY ALL ORDER BY 1"
    ).fetchall()
    ((shortfall,),) = con.execute(
        f"SELECT min(forecast_month) FROM {table} WHERE metric = 'capacity_gap' AND forecast < 0"
    ).fetchall()
    return ForecastRun(
        origin_month=origin.isoformat(),
        series=int(forecast),
        too_little_history=int(thin),
        median_mase={str(k): round(float(v), 4) for k, v in medians},
        first_shortfall=shortfall.isoformat() if shortfall else None,
        recomputed=recomputed,
    )
