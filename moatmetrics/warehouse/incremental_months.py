"""Which months of time entries a dbt build must rebuild (issue 14: a day's data, a day's work).

Time entries are most of the input (10 of the 13 million rows of the 10m demo), and a daily
upload adds one day of them. The two dbt models that hold them row by row
(`int_time_entries_corrected`, `int_time_entries_costed`) are incremental: a build replaces
only the months whose entries changed, keyed by the month of the work date *as the file gave
it* (`file_work_month`; a correction may move an entry's date, not its partition). The two
summaries per client or staff member, month of work and work type
(`int_client_work_types_summarized`, `int_staff_work_types_summarized`) are incremental by
the month of the corrected work date: a build replaces the planned months and every month a
correction moves an entry into (`dbt_project/macros/time_entry_months.sql`). The other
models hold a row per client, staff member or licence and month and are rebuilt in full from
them, but for `marts.trends`, which finds its changed series itself
(`dbt_project/macros/trend_series.sql`); a full plan (`--full-refresh`) rebuilds it too.

What a month of those two models depends on, and how a change is seen:

- its own rows of `raw.time_entries`: a fingerprint per month (row count and the sum of
  DuckDB's hash of every row, lineage included), compared with the one recorded at the last
  successful build. New, replaced, superseded and retracted rows all change it;
- everything else they read, for every month at once: the clients, aliases and licence facts
  (a vendor key's resolution to a client), the staff file (hourly cost), the corrections of
  time entries and staff, the code and the settings that reach the marts. Any change there,
  a first build, or a request (`moatmetrics run --full-refresh`) rebuilds every month.

The plan is recorded only after dbt built all four models successfully: a failed build leaves
the previous record, so the next run rebuilds the same months again (a month is deleted and
inserted whole, so doing it twice is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from moatmetrics.at_rest.duckdb_files import transaction
from moatmetrics.canonical import digest
from moatmetrics.fingerprints import code_digest, rows_fingerprint, settings_digest
from moatmetrics.settings import Settings

#: The incremental dbt models partitioned by the file's month of work, in build order.
INCREMENTAL_MODELS = ("int_time_entries_corrected", "int_time_entries_costed")
#: The summaries of time entries per month of (corrected) work, incremental by that month:
#: a build replaces the planned months and those corrections move entries into.
MONTH_SUMMARY_MODELS = ("int_client_work_types_summarized", "int_staff_work_types_summarized")
#: Every model a month plan rebuilds in part: the plan is recorded only when a build built
#: them all, so a month none of them has caught up with is planned again.
PLANNED_MODELS = INCREMENTAL_MODELS + MONTH_SUMMARY_MODELS
#: The variable of dbt's environment that names the months to rebuild (ISO dates of their
#: first days, comma-separated; `all` for every month). An environment variable rather than
#: a dbt `--vars`: a change of vars makes dbt parse the whole project again (about 4 s), a
#: change of an environment variable only the files that read it.
MONTHS_ENV = "MOATMETRICS_TIME_ENTRY_MONTHS"
STATE_TABLE = "ingest.incremental_months"
#: The run tag that asks for every month to be rebuilt (`moatmetrics run --full-refresh`, or
#: a run launched from the Dagster UI with this tag set to "true").
FULL_REFRESH_TAG = "moatmetrics/full_refresh"
_INPUTS_PART = "inputs"

#: What every month of the incremental models reads besides its own time entries.
_DEPENDENCIES = {
    "clients": "SELECT * FROM raw.clients",
    "client_aliases": "SELECT * FROM raw.client_aliases",
    # only a vendor key's own name reaches a time entry's client (stg_raw__client_identities)
    "license_facts": "SELECT DISTINCT client_source, client_key, client_name"
    " FROM raw.license_facts WHERE client_id IS NULL AND client_key IS NOT NULL",
    "staff": "SELECT * FROM raw.staff",
    "row_overrides": "SELECT * FROM raw.row_overrides WHERE entity IN ('time_entries', 'staff')",
}
_MONTHS = (
    "SELECT CAST(date_trunc('month', work_date) AS DATE) AS month,"
    " CAST(count(*) AS VARCHAR) || ':' || CAST(sum(CAST(hash(t) AS HUGEINT)) AS VARCHAR)"
    " FROM raw.time_entries AS t GROUP BY ALL"
)


@dataclass(frozen=True)
class MonthPlan:
    """What the next build rebuilds, and the fingerprints to record once it has."""

    full: bool
    reason: str
    months: list[date]  # the months to replace (all of them when `full`)
    inputs: str = ""
    fingerprints: dict[date, str] = field(default_factory=dict)

    def dbt_args(self) -> list[str]:
        """The arguments that give dbt this plan (beside `dbt_environment`)."""
        return ["--full-refresh"] if self.full else []

    def dbt_environment(self) -> dict[str, str]:
        """The environment that gives dbt this plan's months."""
        months = "all" if self.full else ",".join(m.isoformat() for m in self.months)
        return {MONTHS_ENV: months}

    def summary(self) -> str:
        if self.full:
            return f"time entries: every month rebuilt ({self.reason})"
        if not self.months:
            return "time entries: no month changed"
        named = ", ".join(m.strftime("%Y-%m") for m in self.months)
        return f"time entries: {len(self.months)} month(s) rebuilt ({named})"


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """The fingerprint of everything a month reads besides its own time entries."""
    parts = {name: rows_fingerprint(con, select) for name, select in _DEPENDENCIES.items()}
    return digest({**parts, "code": code_digest(), "settings": settings_digest(settings)})


def _ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE}"
        " (part VARCHAR PRIMARY KEY, month DATE, fingerprint VARCHAR NOT NULL)"
    )


def plan_months(
    con: duckdb.DuckDBPyConnection, settings: Settings, full_refresh: bool = False
) -> MonthPlan:
    """The months to rebuild: those whose time entries changed since the last build."""
    _ensure_state(con)
    inputs = inputs_fingerprint(con, settings)
    now = {month: fingerprint for month, fingerprint in con.execute(_MONTHS).fetchall()}
    recorded = con.execute(
        f"SELECT fingerprint FROM {STATE_TABLE} WHERE part = '{_INPUTS_PART}'"
    ).fetchone()
    built = dict(
        con.execute(
            f"SELECT month, fingerprint FROM {STATE_TABLE} WHERE part <> '{_INPUTS_PART}'"
        ).fetchall()
    )
    reason = ""
    if full_refresh:
        reason = "a full refresh was asked for"
    elif recorded is None:
        reason = "no build recorded yet"
    elif recorded[0] != inputs:
        reason = "clients, aliases, staff, corrections, settings or code changed"
    if reason:
        return MonthPlan(True, reason, sorted(now), inputs, now)
    changed = sorted(m for m in now.keys() | built.keys() if now.get(m) != built.get(m))
    return MonthPlan(False, "", changed, inputs, now)


def record_build(con: duckdb.DuckDBPyConnection, plan: MonthPlan) -> None:
    """Remember what the models now hold: called after dbt built them successfully."""
    _ensure_state(con)
    rows: list[tuple[str, date | None, str]] = [(_INPUTS_PART, None, plan.inputs)]
    rows += [(f"month:{m.isoformat()}", m, f) for m, f in plan.fingerprints.items()]
    with transaction(con):
        con.execute(f"DELETE FROM {STATE_TABLE}")
        con.executemany(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?)", rows)
