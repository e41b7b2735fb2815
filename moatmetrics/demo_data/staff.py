"""``staff.csv``: roles and tiers, loaded hourly costs, part-timers, joiners and leavers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from moatmetrics.demo_data.columns import _cents, _dates, _dec, _ids, _rng, _take
from moatmetrics.demo_data.domain import (
    _S_STAFF,
    _TECH2,
    FIRST_NAMES,
    LAST_NAMES,
    ROLES,
    SMALL_ROLE_COUNTS,
)
from moatmetrics.demo_data.scales import SCALES, ScaleSpec
from moatmetrics.demo_data.work_calendar import _Calendar


@dataclass
class _Staff:
    """What the time-entry generator needs to know about each staff member."""

    ids: pa.Array
    role: np.ndarray
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D]; far future when still employed
    daily_qh: np.ndarray  # contracted quarter-hours per weekday
    log_factor: np.ndarray  # logged / contracted hours on a working day
    internal_share: np.ndarray
    entry_rate: np.ndarray
    pod: np.ndarray

    @property
    def n(self) -> int:
        return len(self.role)


def _staff(
    seed: int, spec: ScaleSpec, cal: _Calendar, n_pods: int,
) -> tuple[_Staff, dict[str, pa.Array]]:
    """The team, plus the habits that shape its time entries (hours logged, internal share)."""
    rng = _rng(seed, _S_STAFF)
    n = spec.staff
    if spec is SCALES["small"]:
        counts = np.array(SMALL_ROLE_COUNTS)
    else:
        shares = np.array([r[1] for r in ROLES])
        counts = np.floor(shares * n).astype(np.int64)
        counts[_TECH2] += n - counts.sum()
    role = rng.permutation(np.repeat(np.arange(len(ROLES)), counts))

    lo = np.array([r[2][0] for r in ROLES])[role]
    hi = np.array([r[2][1] for r in ROLES])[role]
    hourly_cost = _cents(rng.uniform(lo, hi))
    target = _cents(np.array([r[3] for r in ROLES])[role])

    order = rng.permutation(n)
    n_part = max(2, round(0.10 * n))
    n_join = max(2, round(0.10 * n))
    n_leave = max(1, round(0.04 * n))
    part, joiners, leavers = (order[:n_part], order[n_part:n_part + n_join],
                              order[n_part + n_join:n_part + n_join + n_leave])
    weekly = np.full(n, 40.0)
    weekly[part] = rng.choice(np.array([20.0, 25.0, 30.0]), size=n_part)

    start = cal.month_start[0] - rng.integers(60, 3650, size=n).astype("timedelta64[D]")
    join_m = rng.integers(2, cal.months - 4, size=n_join)
    start[joiners] = np.busday_offset(
        cal.month_start[join_m] + rng.integers(0, 20, size=n_join).astype("timedelta64[D]"),
        0, roll="forward",
    )
    end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    leave_m = rng.integers(6, cal.months - 3, size=n_leave)
    end[leavers] = np.busday_offset(
        cal.month_start[leave_m] + rng.integers(5, 25, size=n_leave).astype("timedelta64[D]"),
        0, roll="backward",
    )
    end_or_far = np.where(np.isnat(end), np.datetime64("2999-12-31"), end)

    log_factor = rng.uniform(0.86, 1.04, size=n)
    over = order[-max(1, round(0.06 * n)):]  # a few people who live at their desk
    log_factor[over] = rng.uniform(1.15, 1.25, size=len(over))
    internal_share = np.array([r[4] for r in ROLES])[role] * rng.uniform(0.6, 1.8, size=n)
    entry_rate = np.array([r[5] for r in ROLES])[role] * spec.entries_per_day
    entry_rate *= rng.uniform(0.8, 1.2, size=n)

    first = rng.integers(0, len(FIRST_NAMES), size=n)
    initial = rng.integers(0, 26, size=n)
    last = rng.integers(0, len(LAST_NAMES), size=n)
    names = [f"{FIRST_NAMES[f]} {chr(65 + i)}. {LAST_NAMES[la]}"
             for f, i, la in zip(first, initial, last, strict=True)]

    ids = _ids("S", np.arange(1, n + 1), 4)
    columns = {
        "staff_id": ids,
        "staff_name": pa.array(names, pa.string()),
        "role": _take(pa.array([r[0] for r in ROLES]), role),
        "hourly_cost": _dec(hourly_cost),
        "weekly_hours": _dec(_cents(weekly)),
        "billable_target": _dec(target),
        "start_date": _dates(start),
        "end_date": _dates(end),
    }
    staff = _Staff(
        ids=ids, role=role, start=start, end=end_or_far,
        daily_qh=np.round(weekly * 4 / 5).astype(np.int64), log_factor=log_factor,
        internal_share=internal_share, entry_rate=entry_rate,
        pod=np.arange(n) % n_pods,
    )
    return staff, columns
