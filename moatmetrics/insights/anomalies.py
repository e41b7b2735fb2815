"""Anomalies: a month that departs from its own history and from its peers (issue 16, point 2).

An MSP owner wants to hear about the month that is not like the others before the client
complains or the quarter closes: a margin collapse, an hours spike, a revenue drop, a jump in
unused or unbilled seats, a technician logging far more than usual. ``run_anomalies`` writes
``insights.anomalies`` (published as ``marts.anomalies``) from the marts, in DuckDB SQL over
whole columns. The method is robust statistics, chosen over a fitted model because every
step can be said in a sentence and checked by hand:

1. **Own history.** Each series (a client's labour hours, revenue and gross profit; a licence's
   unused and unbilled seats; a staff member's hours logged as a share of the hours available,
   which leave and short months do not move) is compared with its previous 12
   calendar months, which need at least 6 values: the *usual level* is their median, the usual
   *range* their middle half (25th to 75th percentile), and the *spread* their median absolute
   deviation x 1.4826 (a standard deviation that one odd month cannot inflate), never less than
   a share of the usual level or a floor per kind (:data:`KINDS`), so a series that never moves
   does not turn every small change into an anomaly; unused seats' spread is also at least 5 %
   of the seats bought (they move with the people who come and go: 6 more of 140 is noise).
2. **Peers.** Hours have a calendar: December and the summer holidays lower everyone's. Each
   month's *seasonal factor* is the median, over the kind's entities, of their value divided by
   their own usual level; hours are divided by it before they are compared. Then the month's
   median score over all entities of the kind is subtracted from each, so a change everybody
   shares (a price list update, a short month) is nobody's anomaly.
3. **Score.** The departure from the usual level in spreads, in the kind's direction (a rise
   for hours and seats, a fall for revenue and gross profit). A month is an anomaly when the
   score reaches :data:`SCORE_THRESHOLD` (6) *and* the departure is material (at least 20 h,
   $1,000, 5 seats or 20 points of a staff member's available hours): normally distributed
   months would score 6 about once in a billion, and real months have heavier tails (a long
   onsite day, a one-off hardware sale), hence a bar this high; the material floor keeps a
   tiny client's 2-hour month from turning into "6x usual". Severity is ``high`` from a score
   of :data:`HIGH_SEVERITY` (12), else ``medium``.
4. **Onset only.** A series that stays unusual the month after is the same event continuing;
   only its first month is listed (the trends mart follows the level from there).
5. **One cause per client-month.** A client's revenue drop or hours spike usually takes the
   gross profit down with it; the margin collapse is then not listed apart but named in the
   cause's drivers. A margin collapse listed on its own is a cost nobody billed.

Only complete months (``marts.month_completeness``) are checked: a month still arriving would
look like a revenue drop everywhere. Each anomaly names its **drivers**: the parts of the
number that moved most against their own usual level (work types and tickets for hours,
recurring and other revenue, the cost lines, seats bought against seats in use, seats assigned
against seats billed). Its **confidence** is how far the numbers can be trusted, the row's
trust factors without their consistency factor (which measures exactly how unusual the month
is), times the share of the 12 history months that have a value.

The anomalies of the last :data:`REVIEW_MONTHS` complete months enter the review queue (mart
``anomalies``, kind ``anomaly``); the content a decision is made on is the anomaly's numbers,
so a dismissed (rejected) anomaly stays dismissed until they change. Older anomalies are
history and need no review.

A month's anomalies read only that month and the 12 before it, and only complete months are
checked, so a day's upload into the month still arriving cannot change any of them. Each run
therefore fingerprints what the detector reads of the complete months (the marts' rows, the
work types, the trust factors, the calendar of complete months, the clients' latest names and
the code, :func:`_inputs_fingerprint`); when it equals the one the table was computed from
(``insights.anomaly_inputs``) the table is kept as it is (8 s of a 10m daily run), and it is
computed again when a month completes, history is corrected or the code changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moatmetrics.at_rest.duckdb_files import transaction
from moatmetrics.canonical import canonical_json, digest
from moatmetrics.fingerprints import code_digest, record_inputs, recorded_inputs, rows_fingerprint
from moatmetrics.marts import ANOMALIES_TABLE, GRAINS, INSIGHT_ORDERS
from moatmetrics.marts import INSIGHTS_SCHEMA as SCHEMA
from moatmetrics.trust import formatting, review_reasons
from moatmetrics.trust.tables import FACTOR_WEIGHTS, NOT_REQUIRED, scores_table
from moatmetrics.trust.tables import SCHEMA as TRUST_SCHEMA

if TYPE_CHECKING:
    import duckdb

    from moatmetrics.appdb.reviews import SyncSummary
    from moatmetrics.settings import Settings

#: Months of history a month is compared with, and how many of them need a value.
HISTORY_MONTHS = 12
HISTORY_NEEDED = 6
#: Entities of a kind a month needs for its seasonal factor and peer shift.
PEERS_NEEDED = 5
#: Robust score from which a material departure is an anomaly, and from which it is severe.
SCORE_THRESHOLD = 6.0
HIGH_SEVERITY = 12.0
#: MAD x this estimates a normal distribution's standard deviation.
MAD_TO_SD = 1.4826
#: Anomalies of this many last complete months enter the review queue.
REVIEW_MONTHS = 3
#: The review queue's mart for anomalies (their kind: `review_reasons.ANOMALY`).
REVIEW_MART = ANOMALIES_TABLE


@dataclass(frozen=True)
class AnomalyKind:
    """What counts as unusual for one metric of one kind of entity."""

    kind: str
    entity_type: str  # client, license or staff
    metric: str  # column of the source mart
    label: str
    unit: str  # hours, money or seats
    direction: int  # +1: a rise is the anomaly; -1: a fall
    relative_floor: float  # the spread is at least this share of the usual level ...
    absolute_floor: float  # ... and at least this much
    materiality: float  # a departure smaller than this is never an anomaly
    seasonal: bool  # divided by the month's seasonal factor before comparing
    #: ... and at least this share of the usual level of another column of the row (unused
    #: seats move with the seats bought: 6 more of 140 is people coming and going)
    base: str | None = None
    base_floor: float = 0.0


KINDS: tuple[AnomalyKind, ...] = (
    AnomalyKind("hours_spike", "client", "labor_hours", "Labour hours", "hours", 1,
                0.25, 4.0, 20.0, True),
    AnomalyKind("revenue_drop", "client", "revenue", "Revenue", "money", -1,
                0.05, 250.0, 1000.0, False),
    AnomalyKind("margin_collapse", "client", "gross_profit", "Gross profit", "money", -1,
                0.10, 250.0, 1000.0, False),
    AnomalyKind("unused_seats_jump", "license", "unused_seats", "Unused seats", "seats", 1,
                0.20, 1.0, 5.0, False, "seats_purchased", 0.05),
    AnomalyKind("unbilled_seats_jump", "license", "unbilled_seats", "Unbilled seats", "seats",
                1, 0.20, 1.0, 5.0, False),
    AnomalyKind("staff_hours_spike", "staff", "logged_ratio", "Share of available hours logged",
                "ratio", 1, 0.05, 0.03, 0.20, True),
)  # fmt: skip
KIND_NAMES: tuple[str, ...] = tuple(k.kind for k in KINDS)

#: The parts of each kind's number its drivers are drawn from: (source, part, sign), where a
#: rise of a part with sign +1 (a fall with sign -1) pushes the number the anomaly's way.
#: Work types come from the work-type summaries; the rest are columns of the kind's mart.
_PARTS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "revenue_drop": (("recurring_revenue", "recurring revenue", -1),
                     ("revenue - recurring_revenue", "other revenue", -1)),
    "margin_collapse": (("revenue", "revenue", -1), ("labor_cost", "labour cost", 1),
                        ("license_cost", "licence cost", 1), ("other_cost", "other costs", 1)),
    "unused_seats_jump": (("seats_purchased", "seats bought", 1),
                          ("seats_active", "seats in use", -1)),
    "unbilled_seats_jump": (("seats_assigned", "seats assigned", 1),
                            ("seats_billed", "seats billed", -1)),
}  # fmt: skip
#: Drivers named per anomaly.
DRIVERS_SHOWN = 2

#: insights.anomalies, in order, with their DuckDB types (published as marts.anomalies).
ANOMALY_COLUMNS: dict[str, str] = {
    "entity_type": "VARCHAR",
    "entity_key": "VARCHAR",
    "client_id": "VARCHAR",
    "staff_id": "VARCHAR",
    "vendor": "VARCHAR",
    "product": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "metric": "VARCHAR",
    "label": "VARCHAR",
    "unit": "VARCHAR",
    "month": "DATE",
    "value": "DECIMAL(18, 2)",
    "expected": "DECIMAL(18, 2)",
    "expected_low": "DECIMAL(18, 2)",
    "expected_high": "DECIMAL(18, 2)",
    "history_months": "INTEGER",
    "score": "DECIMAL(18, 2)",
    "severity": "VARCHAR",
    "confidence": "DOUBLE",
    "drivers": "VARCHAR",
    "explanation": "VARCHAR",
    "review_status": "VARCHAR",
}

#: The grain (and publishing order) of marts.anomalies.
ANOMALY_GRAIN = INSIGHT_ORDERS[ANOMALIES_TABLE]
#: What insights.anomalies was computed from: the fingerprint of its inputs, and the number of
#: months it checked (the run's summary when the table is kept).
INPUTS_TABLE = "anomaly_inputs"


@dataclass(frozen=True)
class AnomalyRun:
    months_checked: int  # complete months with history enough to check
    counts: dict[str, int]  # anomalies per kind
    last_month: str | None  # the last complete month
    in_review: int  # anomalies of the last REVIEW_MONTHS months (synced to the queue)
    recomputed: bool = True  # False: the table was kept, its inputs unchanged


def _kinds_values() -> str:
    rows = ", ".join(
        f"('{k.kind}', '{k.entity_type}', '{k.metric}', '{k.label}', '{k.unit}', {k.direction},"
        f" {k.relative_floor}, {k.absolute_floor}, {k.materiality}, {str(k.seasonal).upper()},"
        f" {k.base_floor})"
        for k in KINDS
    )
    return (
        f"SELECT * FROM (VALUES {rows}) AS t(kind, entity_type, metric, label, unit, direction,"
        " relative_floor, absolute_floor, materiality, seasonal, base_floor)"
    )


_LICENSE_KEY = "l.client_id || ' / ' || coalesce(l.vendor, '') || ' / ' || coalesce(l.product, '')"


def _base(kind: AnomalyKind, table: str = "") -> str:
    """The column the kind's spread floor is a share of, when it is not the value itself."""
    return f"CAST({table}{kind.base} AS DOUBLE)" if kind.base else "CAST(NULL AS DOUBLE)"


def _values_sql() -> str:
    """Every value of every kind's series, keyed by kind, entity and month."""
    parts = []
    for k in KINDS:
        if k.entity_type == "client":
            parts.append(
                f"SELECT '{k.kind}' AS kind, client_id AS entity_key, client_id,"
                f" NULL AS staff_id, NULL AS vendor, NULL AS product,"
                f" coalesce(client_name, client_id) AS name, month,"
                f" CAST({k.metric} AS DOUBLE) AS value, {_base(k)} AS base"
                f" FROM marts.client_profitability WHERE {k.metric} IS NOT NULL"
            )
        elif k.entity_type == "staff":
            parts.append(
                f"SELECT '{k.kind}', staff_id, NULL, staff_id, NULL, NULL,"
                f" coalesce(staff_name, staff_id), month, CAST({k.metric} AS DOUBLE),"
                f" {_base(k)} FROM marts.staff_utilization WHERE {k.metric} IS NOT NULL"
            )
        else:
            parts.append(
                f"SELECT '{k.kind}', {_LICENSE_KEY}, l.client_id, NULL, l.vendor, l.product,"
                f" coalesce(l.product, 'a licence') || coalesce(' (' || l.vendor || ')', '')"
                f" || ' at ' || coalesce(n.client_name, l.client_id), l.month,"
                f" CAST(l.{k.metric} AS DOUBLE), {_base(k, 'l.')}"
                f" FROM marts.license_utilization AS l"
                f" LEFT JOIN an_client_names AS n USING (client_id)"
                f" WHERE l.{k.metric} IS NOT NULL"
            )
    return " UNION ALL ".join(parts)


def _parts_sql() -> str:
    """Each driver part's value per kind, entity and month (work types from the summaries)."""
    parts = [
        "SELECT 'hours_spike' AS kind, client_id AS entity_key, month,"
        " replace(work_type, '_', ' ') AS part, 1 AS sign, 'hours' AS unit,"
        " CAST(hours AS DOUBLE) AS value, tickets"
        " FROM intermediate.int_client_work_types_summarized",
        "SELECT 'staff_hours_spike', staff_id, month, replace(work_type, '_', ' '), 1, 'hours',"
        " CAST(hours AS DOUBLE), NULL FROM intermediate.int_staff_work_types_summarized"
        " WHERE staff_id IS NOT NULL",
    ]
    for kind, columns in _PARTS.items():
        entity = next(k for k in KINDS if k.kind == kind).entity_type
        source, key = (
            ("marts.license_utilization AS l", _LICENSE_KEY)
            if entity == "license"
            else ("marts.client_profitability", "client_id")
        )
        unit = "seats" if entity == "license" else "money"
        for column, part, sign in columns:
            parts.append(
                f"SELECT '{kind}', {key}, month, '{part}', {sign}, '{unit}',"
                f" CAST({column} AS DOUBLE), NULL FROM {source}"
            )
    return " UNION ALL ".join(parts)


def _data_confidence_sql() -> str:
    """The row's trust factors but consistency, combined as the trust layer combines them."""
    return " * ".join(
        f"pow(coalesce(s.confidence_{name}, 1.0), {weight})"
        for name, weight in FACTOR_WEIGHTS.items()
        if name != "consistency"
    )


def _statements() -> list[str]:
    """The SQL, one temp table a step, so each step can be read (and queried) on its own."""
    month_number = "((year(month) - 2000) * 12 + month(month))"
    history_window = (
        "history_months AS (PARTITION BY kind, entity_key ORDER BY month_number"
        f" RANGE BETWEEN {HISTORY_MONTHS} PRECEDING AND 1 PRECEDING)"
    )
    window = (
        "h.kind = v.kind AND h.entity_key = v.entity_key"
        f" AND h.month_number BETWEEN v.month_number - {HISTORY_MONTHS}"
        " AND v.month_number - 1"
    )
    client_scores = f"{TRUST_SCHEMA}.{scores_table('client_profitability')}"
    staff_scores = f"{TRUST_SCHEMA}.{scores_table('staff_utilization')}"
    license_scores = f"{TRUST_SCHEMA}.{scores_table('license_utilization')}"
    return [
        f"CREATE OR REPLACE TEMP TABLE an_kinds AS {_kinds_values()}",
        """
        CREATE OR REPLACE TEMP TABLE an_client_names AS
        SELECT client_id, arg_max(client_name, month) AS client_name
        FROM marts.client_profitability GROUP BY client_id
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE an_values AS
        SELECT v.*, {month_number} AS month_number FROM ({_values_sql()}) AS v
        """,
        # 1. the raw usual level, for the seasonal factor
        f"""
        CREATE OR REPLACE TEMP TABLE an_raw_usual AS
        SELECT kind, entity_key, month, value, list_aggregate(history, 'median') AS usual
        FROM (SELECT *, list(value) OVER history_months AS history FROM an_values
              WINDOW {history_window})
        WHERE len(history) >= {HISTORY_NEEDED}
        """,
        # 2. the month's seasonal factor (hours only) ...
        f"""
        CREATE OR REPLACE TEMP TABLE an_season AS
        SELECT r.kind, r.month,
            CASE WHEN any_value(k.seasonal) AND count(*) FILTER (WHERE r.usual > 0)
                >= {PEERS_NEEDED}
                THEN greatest(median(r.value / r.usual) FILTER (WHERE r.usual > 0), 0.05)
                ELSE 1.0 END AS factor
        FROM an_raw_usual AS r JOIN an_kinds AS k USING (kind)
        GROUP BY r.kind, r.month
        """,
        """
        CREATE OR REPLACE TEMP TABLE an_adjusted AS
        SELECT v.*, coalesce(s.factor, 1.0) AS factor, v.value / coalesce(s.factor, 1.0) AS adj
        FROM an_values AS v LEFT JOIN an_season AS s USING (kind, month)
        """,
        # 1 again, on the adjusted values: usual level, range, spread (the median absolute
        # deviation from the usual level), each over the row's own 12 months before
        f"""
        CREATE OR REPLACE TEMP TABLE an_usual AS
        WITH windowed AS (
            SELECT kind, entity_key, month, list(adj) OVER history_months AS history,
                list(base) OVER history_months AS bases
            FROM an_adjusted
            WINDOW {history_window}
        ),
        centred AS (
            SELECT *, list_aggregate(history, 'median') AS usual FROM windowed
            WHERE len(history) >= {HISTORY_NEEDED}
        )
        SELECT kind, entity_key, month, usual,
            list_aggregate(history, 'quantile_cont', 0.25) AS usual_low,
            list_aggregate(history, 'quantile_cont', 0.75) AS usual_high,
            list_aggregate(bases, 'median') AS usual_base,
            len(history) AS history_months,
            list_aggregate(list_transform(history, lambda x: abs(x - usual)), 'median') AS mad
        FROM centred
        """,
        # 3. the score, less the month's median score among peers
        f"""
        CREATE OR REPLACE TEMP TABLE an_scored AS
        WITH own AS (
            SELECT a.*, u.usual, u.usual_low, u.usual_high, u.history_months,
                k.direction, k.materiality, k.label, k.unit, k.metric, k.entity_type,
                greatest({MAD_TO_SD} * u.mad, k.relative_floor * abs(u.usual),
                    k.absolute_floor, coalesce(k.base_floor * u.usual_base, 0)) AS spread
            FROM an_adjusted AS a
            JOIN an_usual AS u USING (kind, entity_key, month)
            JOIN an_kinds AS k USING (kind)
        ),
        directed AS (
            SELECT *, direction * (adj - usual) / spread AS own_score FROM own
        ),
        peers AS (
            SELECT kind, month, CASE WHEN count(*) >= {PEERS_NEEDED}
                THEN median(own_score) ELSE 0 END AS peer_score
            FROM directed GROUP BY kind, month
        )
        SELECT d.*,
            d.own_score - p.peer_score AS score,
            d.usual * d.factor AS expected,
            d.usual_low * d.factor AS expected_low,
            d.usual_high * d.factor AS expected_high
        FROM directed AS d JOIN peers AS p USING (kind, month)
        """,
        # 4. onsets of the complete months
        f"""
        CREATE OR REPLACE TEMP TABLE an_onsets AS
        WITH flagged AS (
            SELECT *, score >= {SCORE_THRESHOLD}
                AND direction * (value - expected) >= materiality AS is_anomaly
            FROM an_scored
        ),
        continued AS (
            SELECT f.*, coalesce(p.is_anomaly, false) AS was_anomaly
            FROM flagged AS f
            LEFT JOIN flagged AS p
                ON p.kind = f.kind AND p.entity_key = f.entity_key
                AND p.month_number = f.month_number - 1
        )
        SELECT c.* EXCLUDE (is_anomaly, was_anomaly)
        FROM continued AS c
        JOIN marts.month_completeness AS m ON m.month = c.month AND m.is_complete
        WHERE c.is_anomaly AND NOT c.was_anomaly
        """,
        # 5. a client-month's margin collapse folds into its revenue drop or hours spike
        """
        CREATE OR REPLACE TEMP TABLE an_folded AS
        SELECT m.entity_key, m.month, m.value, m.expected
        FROM an_onsets AS m
        WHERE m.kind = 'margin_collapse' AND EXISTS (
            SELECT 1 FROM an_onsets AS c
            WHERE c.kind IN ('revenue_drop', 'hours_spike')
                AND c.entity_key = m.entity_key AND c.month = m.month
        )
        """,
        """
        CREATE OR REPLACE TEMP TABLE an_listed AS
        SELECT o.* FROM an_onsets AS o
        WHERE NOT (o.kind = 'margin_collapse'
            AND EXISTS (SELECT 1 FROM an_folded AS f
                        WHERE f.entity_key = o.entity_key AND f.month = o.month))
        """,
        # drivers: each part of a listed anomaly against its own usual level over the same
        # history months
        f"""
        CREATE OR REPLACE TEMP TABLE an_parts AS
        SELECT p.* FROM ({_parts_sql()}) AS p
        SEMI JOIN (SELECT DISTINCT kind, entity_key FROM an_listed) AS l
            ON l.kind = p.kind AND l.entity_key = p.entity_key
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE an_drivers AS
        WITH history AS (
            SELECT v.kind, v.entity_key, v.month, h.month AS history_month
            FROM an_listed AS v JOIN an_values AS h ON {window}
        ),
        named_parts AS (
            SELECT DISTINCT l.kind, l.entity_key, l.month, p.part, p.sign, p.unit
            FROM an_listed AS l
            JOIN an_parts AS p ON p.kind = l.kind AND p.entity_key = l.entity_key
                AND p.month BETWEEN l.month - INTERVAL {HISTORY_MONTHS} MONTH AND l.month
        ),
        usual_parts AS (
            SELECT n.kind, n.entity_key, n.month, n.part, any_value(n.sign) AS sign,
                any_value(n.unit) AS unit, median(coalesce(p.value, 0)) AS usual
            FROM named_parts AS n
            JOIN history AS h USING (kind, entity_key, month)
            LEFT JOIN an_parts AS p ON p.kind = n.kind AND p.entity_key = n.entity_key
                AND p.part = n.part AND p.month = h.history_month
            GROUP BY n.kind, n.entity_key, n.month, n.part
        ),
        moved AS (
            SELECT u.*, coalesce(p.value, 0) AS now, p.tickets,
                u.sign * (coalesce(p.value, 0) - u.usual) AS contribution
            FROM usual_parts AS u
            LEFT JOIN an_parts AS p ON p.kind = u.kind AND p.entity_key = u.entity_key
                AND p.part = u.part AND p.month = u.month
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY kind, entity_key, month
                ORDER BY contribution DESC, part) AS rank
            FROM moved WHERE contribution > 0
        )
        SELECT kind, entity_key, month,
            string_agg(part || ' ' || an_amount(now, unit)
                || CASE WHEN tickets > 0 THEN ' over ' || mm_count(tickets, 'ticket') ELSE '' END
                || ' (usually ' || an_amount(usual, unit) || ')', '; ' ORDER BY rank)
                AS drivers
        FROM ranked WHERE rank <= {DRIVERS_SHOWN}
        GROUP BY kind, entity_key, month
        """,
        f"""
        CREATE OR REPLACE TEMP TABLE an_rows AS
        WITH described AS (
            SELECT l.*,
                concat_ws('; ', d.drivers, CASE WHEN f.entity_key IS NOT NULL THEN
                    'gross profit ' || an_amount(f.value, 'money') || ' (usually '
                    || an_amount(f.expected, 'money') || ')' END) AS all_drivers,
                CASE l.entity_type
                    WHEN 'client' THEN (SELECT {_data_confidence_sql()} FROM {client_scores}
                        AS s WHERE s.client_id = l.client_id AND s.month = l.month)
                    WHEN 'staff' THEN (SELECT {_data_confidence_sql()} FROM {staff_scores}
                        AS s WHERE s.staff_id = l.staff_id AND s.month = l.month)
                    ELSE (SELECT {_data_confidence_sql()} FROM {license_scores} AS s
                        WHERE s.client_id = l.client_id
                        AND s.vendor IS NOT DISTINCT FROM l.vendor
                        AND s.product = l.product AND s.month = l.month)
                END AS data_confidence
            FROM an_listed AS l
            LEFT JOIN an_drivers AS d USING (kind, entity_key, month)
            LEFT JOIN an_folded AS f
                ON f.entity_key = l.entity_key AND f.month = l.month
                AND l.entity_type = 'client'
        )
        SELECT entity_type, entity_key, client_id, staff_id, vendor, product, name, kind,
            metric, label, unit, month, value, expected, expected_low, expected_high,
            history_months, score,
            CASE WHEN score >= {HIGH_SEVERITY} THEN 'high' ELSE 'medium' END AS severity,
            round(coalesce(data_confidence, 1.0)
                * least(1.0, history_months / {HISTORY_MONTHS}.0), 4) AS confidence,
            nullif(all_drivers, '') AS drivers,
            label || ' for ' || name || CASE WHEN direction > 0 THEN ' rose to ' ELSE
                ' fell to ' END || an_amount(value, unit) || ' in ' || strftime(month, '%B %Y')
                || ', against a usual '
                || CASE WHEN an_amount(expected_low, unit) = an_amount(expected_high, unit)
                    THEN an_amount(expected, unit)
                    ELSE an_range(expected_low, expected_high, unit) END
                || coalesce(': ' || nullif(all_drivers, ''), '') || '.' AS explanation,
            CAST(NULL AS VARCHAR) AS review_status
        FROM described
        """,
    ]


_MACROS = {
    "an_amount": (
        "(v, unit) AS CASE unit WHEN 'money' THEN mm_money(v) WHEN 'hours'"
        " THEN mm_integer(v) || ' h' WHEN 'ratio' THEN mm_percent(v) ELSE mm_integer(v) END"
    ),
    "an_range": (
        "(lo, hi, unit) AS CASE unit WHEN 'money' THEN mm_money(lo) || '–' || mm_money(hi)"
        " WHEN 'hours' THEN mm_integer(lo) || '–' || mm_integer(hi) || ' h'"
        " WHEN 'ratio' THEN mm_percent(lo) || '–' || mm_percent(hi)"
        " ELSE mm_integer(lo) || '–' || mm_integer(hi) END"
    ),
}


def run_anomalies(con: duckdb.DuckDBPyConnection) -> AnomalyRun:
    """Replace ``insights.anomalies`` with the anomalies of every complete month, unless what
    they are computed from is what the table was computed from (then it is kept)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    fingerprint = _inputs_fingerprint(con)
    recorded = recorded_inputs(con, f"{SCHEMA}.{INPUTS_TABLE}")
    if recorded is not None and recorded["fingerprint"] == fingerprint:
        return _summary(con, int(recorded["months_checked"]), recomputed=False)
    formatting.install_macros(con)
    for name, body in _MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")
    columns = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in ANOMALY_COLUMNS.items())
    order = ", ".join(ANOMALY_GRAIN)
    for statement in _statements():
        con.execute(statement)
    ((checked,),) = con.execute(
        "SELECT count(DISTINCT s.month) FROM marts.month_completeness AS m"
        " JOIN an_scored AS s ON s.month = m.month WHERE m.is_complete"
    ).fetchall()
    with transaction(con):
        con.execute(
            f"CREATE OR REPLACE TABLE {SCHEMA}.{ANOMALIES_TABLE} AS SELECT {columns}"
            f" FROM an_rows ORDER BY {order}"
        )
        record_inputs(
            con,
            f"{SCHEMA}.{INPUTS_TABLE}",
            {"fingerprint": fingerprint, "months_checked": int(checked)},
        )
    return _summary(con, int(checked), recomputed=True)


def _inputs_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Everything the detector reads that can change an anomaly of a complete month.

    The rows of the complete months (a month is compared with the 12 before it, never with
    a later one) of the three marts, the work-type summaries and the trust factors the
    confidence is made of; which months are complete; the clients' latest names (a licence's
    name carries its client's, taken from the newest month); the code. The marts' and the
    summaries' whole rows are hashed, not only the columns read: a change the detector would
    not see costs a recomputation, never a stale table.
    """
    complete = "month <= (SELECT max(month) FROM marts.month_completeness WHERE is_complete)"
    factors = ", ".join(f"confidence_{name}" for name in FACTOR_WEIGHTS if name != "consistency")
    parts = {
        # which months are complete; not the counts, which grow with every day's upload
        "calendar": "SELECT month, is_complete FROM marts.month_completeness",
        "names": "SELECT client_id, arg_max(client_name, month) FROM marts.client_profitability"
        " GROUP BY client_id",
        **{
            source: f"SELECT * FROM {source} WHERE {complete}"
            for source in (
                "marts.client_profitability",
                "marts.staff_utilization",
                "marts.license_utilization",
                "intermediate.int_client_work_types_summarized",
                "intermediate.int_staff_work_types_summarized",
            )
        },
        **{
            mart: f"SELECT {', '.join(GRAINS[mart])}, {factors}"
            f" FROM {TRUST_SCHEMA}.{scores_table(mart)} WHERE {complete}"
            for mart in ("client_profitability", "staff_utilization", "license_utilization")
        },
    }
    fingerprints = {name: rows_fingerprint(con, select) for name, select in parts.items()}
    return digest({**fingerprints, "code": code_digest()})


def _summary(con: duckdb.DuckDBPyConnection, checked: int, *, recomputed: bool) -> AnomalyRun:
    table = f"{SCHEMA}.{ANOMALIES_TABLE}"
    counts = dict.fromkeys(KIND_NAMES, 0)
    counts.update(
        {str(k): int(n) for k, n in con.execute(
            f"SELECT kind, count(*) FROM {table} GROUP BY kind").fetchall()}
    )  # fmt: skip
    ((last,),) = con.execute(
        "SELECT max(month) FROM marts.month_completeness WHERE is_complete"
    ).fetchall()
    ((in_review,),) = con.execute(
        f"SELECT count(*) FROM {table} WHERE month > {_review_since(last)}"
    ).fetchall()
    return AnomalyRun(
        checked, counts, last.isoformat() if last else None, int(in_review), recomputed
    )


def _review_since(last: Any) -> str:
    """SQL for the month before the first one reviewed (months after it are reviewed)."""
    if last is None:
        return "DATE '9999-12-01'"
    return f"DATE '{last.isoformat()}' - INTERVAL {REVIEW_MONTHS} MONTH"


def row_key(row: Mapping[str, Any]) -> str:
    """An anomaly's review key: its grain values as canonical JSON."""
    return canonical_json([_plain(row[c]) for c in ANOMALY_GRAIN])


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    return round(float(value), 2)


#: The numbers a reviewer's decision is made on: it holds until one of them changes.
_HASHED = ("entity_type", "entity_key", "kind", "metric", "month", "value", "expected",
           "expected_low", "expected_high")  # fmt: skip


def review_entries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review queue's entries (`moatmetrics.appdb.reviews.sync_review_items`) of anomalies."""
    return [
        {
            "row_key": row_key(row),
            "row": {c: _plain(row[c]) for c in _HASHED},
            "confidence": row["confidence"],
            "explanation": row["explanation"],
            "client_id": row["client_id"],
            "reason_kind": review_reasons.ANOMALY,
            "money_at_stake": review_reasons.money_at_stake(REVIEW_MART, row),
            "subject": row["name"],
        }
        for row in rows
    ]


def sync_reviews(con: duckdb.DuckDBPyConnection, settings: Settings | None) -> SyncSummary:
    """Put the anomalies of the last REVIEW_MONTHS complete months in the review queue and
    write each anomaly's review status into ``insights.anomalies`` (older ones need none)."""
    from moatmetrics.appdb.reviews import sync_review_items

    table = f"{SCHEMA}.{ANOMALIES_TABLE}"
    ((last,),) = con.execute(
        "SELECT max(month) FROM marts.month_completeness WHERE is_complete"
    ).fetchall()
    cursor = con.execute(f"SELECT * FROM {table} WHERE month > {_review_since(last)}")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    entries = review_entries(rows)
    summary = sync_review_items(REVIEW_MART, entries, settings)
    con.execute(f"UPDATE {table} SET review_status = ?", [NOT_REQUIRED])
    if rows:
        grain = ", ".join(ANOMALY_GRAIN)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE an_statuses AS SELECT {grain},"
            f" CAST(NULL AS VARCHAR) AS status FROM {table} LIMIT 0"
        )
        con.executemany(
            f"INSERT INTO an_statuses VALUES ({', '.join('?' for _ in ANOMALY_GRAIN)}, ?)",
            [
                [*(row[c] for c in ANOMALY_GRAIN), summary.statuses[entry["row_key"]]]
                for row, entry in zip(rows, entries, strict=True)
            ],
        )
        matched = " AND ".join(f"s.{c} = a.{c}" for c in ANOMALY_GRAIN)
        con.execute(
            f"UPDATE {table} AS a SET review_status = s.status FROM an_statuses AS s"
            f" WHERE {matched}"
        )
    return summary
