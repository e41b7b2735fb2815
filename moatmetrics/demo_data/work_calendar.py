"""The 24-month calendar every generator shares: month starts, weekdays and public holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from moatmetrics.demo_data.columns import _public_holidays
from moatmetrics.demo_data.scales import MONTHS


@dataclass(frozen=True)
class _Calendar:
    """The 24 months of the period, computed once."""

    month_start: np.ndarray  # datetime64[D], one per month
    month_end: np.ndarray
    invoice_date: np.ndarray  # last weekday of each month
    weekdays: list[np.ndarray]  # weekdays of each month
    holidays: np.ndarray

    @property
    def months(self) -> int:
        return len(self.month_start)


def _calendar(end_month: date) -> _Calendar:
    last = np.datetime64(end_month.strftime("%Y-%m"), "M")
    months = np.arange(last - (MONTHS - 1), last + 1)
    start = months.astype("datetime64[D]")
    end = (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    invoice = np.busday_offset(end, 0, roll="backward")
    weekdays = []
    for s, e in zip(start, end, strict=True):
        days = np.arange(s, e + np.timedelta64(1, "D"))
        weekdays.append(days[np.is_busday(days)])
    first_year = int(str(start[0])[:4])
    return _Calendar(start, end, invoice, weekdays, _public_holidays(range(first_year,
                                                                           first_year + 4)))
