"""One month of the published marts for a what-if scenario (`moatmetrics.insights.scenarios`).

Three SELECTs over the leased snapshot, one per mart, straight into pandas (no row objects):
the same SQL on a snapshot file and on a PostgreSQL snapshot schema. The month is the last
complete one unless the caller names one the snapshot has.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from api import periods
from api.mart_queries import snapshot_table
from api.problems import invalid_parameter
from moatmetrics.insights.scenarios import (
    CLIENT_COLUMNS,
    LICENSE_COLUMNS,
    STAFF_COLUMNS,
    MonthMarts,
)
from moatmetrics.seam.base import SnapshotLease

if TYPE_CHECKING:  # pandas loads on the first what-if, not with the API
    import pandas as pd

_SOURCES = (
    ("client_profitability", CLIENT_COLUMNS),
    ("license_utilization", LICENSE_COLUMNS),
    ("staff_utilization", STAFF_COLUMNS),
)


def scenario_month(lease: SnapshotLease, month: str | None) -> date:
    """The month a scenario reads: `YYYY-MM` the snapshot has, else the last complete one."""
    chosen = periods.selected_month(periods.data_months(lease), month)
    if chosen is None:
        raise invalid_parameter("month", "the current snapshot has no month of data yet")
    return chosen


def _frame(lease: SnapshotLease, mart: str, columns: tuple[str, ...], month: date) -> pd.DataFrame:
    import pandas as pd

    if mart not in lease.tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    select = ", ".join(f'"{c}"' for c in columns)
    mark = lease.dialect.placeholder
    cursor = lease.cursor.execute(
        f"SELECT {select} FROM {snapshot_table(lease, mart)} WHERE month = {mark}"
        f" ORDER BY {columns[0]}",
        [month],
    )
    rows: list[Any] = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=list(columns))


def month_marts(lease: SnapshotLease, month: date) -> MonthMarts:
    """The month's client, license and staff rows, and its working days."""
    days = calendar.monthrange(month.year, month.month)[1]
    working_days = int(np.busday_count(month, month + timedelta(days=days)))
    clients, licenses, staff = (_frame(lease, m, c, month) for m, c in _SOURCES)
    return MonthMarts(month, working_days, clients, licenses, staff)
