"""``time_entries.csv``, one month at a time so the 10m scale never holds more than a month.

Also returns the labour each client used per month, which invoices and expenses bill."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from moatmetrics.demo_data.clients import _Clients
from moatmetrics.demo_data.columns import _dates, _dec, _ids, _rng, _take
from moatmetrics.demo_data.domain import (
    _BREAK_FIX,
    _CONSULT,
    _HOLIDAY,
    _INTERNAL,
    _MAINT,
    _ONSITE,
    _OTHER,
    _PROJ,
    _PROJECT,
    _PTO,
    _REMOTE,
    _S_DEFECTS,
    _S_TIME,
    _TRAINING,
    CHRISTMAS_WEEK_PTO_P,
    DAY_FACTOR,
    INVOICED_P,
    NO_CHARGE_P,
    PTO_P,
    ROLE_WORK_MIX,
    WORK_TYPES,
)
from moatmetrics.demo_data.events import _Plan, _planted_time
from moatmetrics.demo_data.scales import (
    DECLINE_EXTRA_DEMAND,
    DECLINE_REACTIVE_SHIFT,
    HOURS_SPIKE_MONTHS,
    HOURS_SPIKE_VALUES,
    UNKNOWN_CLIENT_ID,
    UNKNOWN_CLIENT_MONTH,
    UNKNOWN_STAFF_ID,
    UNKNOWN_STAFF_MONTH,
)
from moatmetrics.demo_data.staff import _Staff
from moatmetrics.demo_data.work_calendar import _Calendar


@dataclass
class _Labour:
    """Per client and month: what invoices and expenses need from the time entries."""

    support_qh: np.ndarray  # quarter-hours invoiced by the hour, not project
    project_qh: np.ndarray  # project quarter-hours invoiced by the hour
    onsite_visits: np.ndarray  # client-days with an onsite entry
    client_qh: np.ndarray  # quarter-hours of client work, for the planted events' sizes
    staff_qh: np.ndarray  # (staff, month) quarter-hours of work logged, likewise


def _pick_clients(
    rng: np.random.Generator, clients: _Clients, active_now: np.ndarray, pods: np.ndarray,
    demand: np.ndarray,
) -> np.ndarray:
    """Weighted client choice inside each staff member's pod; -1 when the pod has no client.

    Integer cumulative weights per pod make the draw exact: a client with zero weight (not
    active this month) can never be chosen, whatever the floating-point rounding.
    """
    n_pods = int(clients.pod.max()) + 1
    w = np.where(active_now, np.round(clients.labour_weight * demand).astype(np.int64), 0)
    order = np.argsort(clients.pod, kind="stable")
    cum = np.cumsum(w[order])
    total = np.bincount(clients.pod, weights=w, minlength=n_pods).astype(np.int64)
    base = np.concatenate(([0], np.cumsum(total)[:-1]))
    r = rng.integers(0, np.maximum(total[pods], 1))
    chosen = order[np.searchsorted(cum, base[pods] + r, side="right").clip(0, len(order) - 1)]
    return np.where(total[pods] > 0, chosen, -1)


def _time_month(
    seed: int, k: int, cal: _Calendar, staff: _Staff, clients: _Clients, active: np.ndarray,
    next_entry: int, next_ticket: int, labour: _Labour, plan: _Plan,
) -> tuple[dict[str, pa.Array], int]:
    """All time entries of month ``k``; also fills ``labour[:, k]``. Returns (columns, tickets)."""
    rng = _rng(seed, _S_TIME, k)
    days = cal.weekdays[k]
    cal_month = int(str(cal.month_start[k])[5:7]) - 1
    on = (days[:, None] >= staff.start[None, :]) & (days[:, None] <= staff.end[None, :])
    di, si = np.nonzero(on)  # staff-days in (date, staff) order
    n_sd = len(di)
    day = days[di]

    # Absence: public holidays for everybody, PTO with summer and Christmas peaks.
    holiday = np.isin(day, cal.holidays)
    pto_p = np.full(n_sd, PTO_P[cal_month])
    if cal_month == 11:
        pto_p[day >= np.datetime64(str(days[0])[:8] + "22")] = CHRISTMAS_WEEK_PTO_P
    pto = ~holiday & (rng.random(n_sd) < pto_p)
    half = pto & (rng.random(n_sd) < 0.2)
    daily = staff.daily_qh[si]
    absent_qh = np.where(holiday | (pto & ~half), daily, np.where(half, daily // 2, 0))

    # Work: contracted hours x personal logging habit x season, ~1.5% of days not logged.
    working = ~holiday & ~(pto & ~half) & (rng.random(n_sd) >= 0.015)
    hours = (daily - absent_qh) / 4 * staff.log_factor[si] * DAY_FACTOR[cal_month]
    hours *= rng.normal(1.0, 0.08, size=n_sd)
    work_qh = np.where(working, np.clip(np.round(hours * 4), 2, 44), 0).astype(np.int64)

    # Split each day into entries of >= 15 minutes that add up exactly to the day.
    lam = staff.entry_rate[si] * work_qh / np.maximum(daily, 1)
    n_entries = 1 + rng.poisson(np.maximum(lam - 1, 0))
    n_entries = np.where(working, np.minimum(np.minimum(n_entries, work_qh), 16), 0)
    grp = np.repeat(np.arange(n_sd), n_entries)
    n_work = len(grp)
    share = rng.exponential(size=n_work)
    share /= np.bincount(grp, weights=share, minlength=n_sd)[grp]
    spare = (work_qh - n_entries)[grp]
    qh = 1 + np.floor(spare * share).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(n_entries)[:-1]))[n_entries > 0]
    qh[first] += work_qh[n_entries > 0] - np.bincount(grp, weights=qh, minlength=n_sd)[
        n_entries > 0
    ].astype(np.int64)

    # Internal or client work, and for whom.
    s_e = si[grp]
    internal_p = staff.internal_share[s_e] * (1.3 if cal_month == 11 else 1.0)
    demand = 1 + DECLINE_EXTRA_DEMAND * clients.decline[:, k]
    client = _pick_clients(rng, clients, active[:, k], staff.pod[s_e], demand)
    client = np.where(rng.random(n_work) < internal_p, -1, client)
    is_client = client >= 0
    contract = clients.contract[np.maximum(client, 0)]

    mix = np.cumsum(ROLE_WORK_MIX, axis=1)[staff.role[s_e]]
    wt = (rng.random(n_work)[:, None] < mix).argmax(axis=1)
    wt = np.where(contract == _PROJECT, _PROJ, wt)
    wt = np.where((contract == _BREAK_FIX) & np.isin(wt, (_MAINT, _CONSULT)), _REMOTE, wt)
    wt = np.where((contract == _OTHER) & (wt == _CONSULT), _REMOTE, wt)
    # A declining client's time turns reactive: firefighting replaces planned work.
    shift = rng.random(n_work) < DECLINE_REACTIVE_SHIFT * clients.decline[np.maximum(client, 0), k]
    wt = np.where(shift & np.isin(wt, (_MAINT, _PROJ, _CONSULT)), _REMOTE, wt)
    internal_wt = np.where(rng.random(n_work) < 0.7, _INTERNAL, _TRAINING)
    wt = np.where(is_client, wt, internal_wt)
    client_wt = np.minimum(wt, _CONSULT)
    billable = is_client & (rng.random(n_work) >= NO_CHARGE_P[client_wt])
    invoiced = billable & (rng.random(n_work) < INVOICED_P[contract, client_wt])
    rate = np.where(wt == _PROJ, clients.project_rate_cents[np.maximum(client, 0)],
                    clients.rate_cents[np.maximum(client, 0)])

    # What the invoice of this month bills, and the onsite trips expenses pay for.
    n_cl = clients.n
    for target, kind in ((labour.support_qh, invoiced & (wt != _PROJ)),
                         (labour.project_qh, invoiced & (wt == _PROJ))):
        target[:, k] = np.bincount(client[kind], weights=qh[kind], minlength=n_cl)
    onsite = wt == _ONSITE
    visits = np.unique(client[onsite] * n_sd + di[grp][onsite])
    labour.onsite_visits[:, k] = np.bincount(visits // n_sd, minlength=n_cl)

    # Tickets: consecutive entries of one client share a ticket about half of the time.
    ticketed = np.flatnonzero(is_client & (wt != _CONSULT))
    t_order = ticketed[np.lexsort((di[grp][ticketed], client[ticketed]))]
    t_client = client[t_order]
    new_ticket = np.ones(len(t_order), dtype=bool)
    new_ticket[1:] = (t_client[1:] != t_client[:-1]) | (rng.random(len(t_order) - 1) < 0.5)
    ticket = np.full(n_work, -1, dtype=np.int64)
    ticket[t_order] = next_ticket + np.cumsum(new_ticket) - 1
    next_ticket += int(new_ticket.sum())

    # Absence entries join the work entries, ordered by day, staff, absence first.
    absent = np.flatnonzero(absent_qh > 0)
    a_wt = np.where(holiday[absent], _HOLIDAY, _PTO)
    key = np.concatenate((2 * absent, 2 * grp + 1))
    order = np.argsort(key, kind="stable")
    staff_i = np.concatenate((si[absent], s_e))[order]
    client_i = np.concatenate((np.full(len(absent), -1), client))[order]
    date_i = np.concatenate((di[absent], di[grp]))[order]
    qh_i = np.concatenate((absent_qh[absent], qh))[order]
    bill_i = np.concatenate((np.zeros(len(absent), bool), billable))[order]
    invoiced_i = np.concatenate((np.zeros(len(absent), bool), invoiced))[order]
    wt_i = np.concatenate((a_wt, wt))[order]
    rate_i = np.concatenate((np.zeros(len(absent), np.int64), rate))[order]
    ticket_i = np.concatenate((np.full(len(absent), -1), ticket))[order]
    n = len(order)

    # Injected defects (after the invoice totals, as if the export had garbled them).
    staff_ids = pa.concat_arrays([staff.ids, pa.array([UNKNOWN_STAFF_ID])])
    client_ids = pa.concat_arrays([clients.ids, pa.array([UNKNOWN_CLIENT_ID])])
    drng = _rng(seed, _S_DEFECTS, k)
    candidates = np.flatnonzero((client_i >= 0) & (qh_i <= 24))
    if k in HOURS_SPIKE_MONTHS and len(candidates):
        qh_i[drng.choice(candidates)] = 4 * HOURS_SPIKE_VALUES[HOURS_SPIKE_MONTHS.index(k)]
    if k == UNKNOWN_STAFF_MONTH and len(candidates):
        staff_i[drng.choice(candidates)] = staff.n
    if k == UNKNOWN_CLIENT_MONTH and len(candidates):
        client_i[drng.choice(candidates)] = clients.n

    # Planted events (demo_data.events) after the defects, which they leave where they were.
    planted, next_ticket = _planted_time(
        plan, seed, k, cal, staff, clients, labour.client_qh, labour.staff_qh, next_ticket,
        INVOICED_P, _PROJ, _INTERNAL,
    )
    extra = planted.arrays()
    if extra is not None:
        p_staff, p_client, p_day, p_qh, p_wt, p_bill, p_inv, p_rate, p_ticket = extra
        staff_i, client_i, date_i, qh_i, wt_i, rate_i, ticket_i = (
            np.concatenate((a, b)) for a, b in (
                (staff_i, p_staff), (client_i, p_client), (date_i, p_day), (qh_i, p_qh),
                (wt_i, p_wt), (rate_i, p_rate), (ticket_i, p_ticket),
            )
        )  # fmt: skip
        bill_i = np.concatenate((bill_i, p_bill))
        invoiced_i = np.concatenate((invoiced_i, p_inv))
        project = p_inv & (p_wt == _PROJ)
        labour.project_qh[:, k] += np.bincount(p_client[project], weights=p_qh[project],
                                               minlength=n_cl)
        order = np.lexsort((staff_i, date_i))  # stable: day, then staff, as before
        staff_i, client_i, date_i, qh_i, bill_i, invoiced_i, wt_i, rate_i, ticket_i = (
            x[order] for x in (staff_i, client_i, date_i, qh_i, bill_i, invoiced_i, wt_i,
                               rate_i, ticket_i)
        )
        n = len(order)
    work = (wt_i != _PTO) & (wt_i != _HOLIDAY) & (staff_i < staff.n)
    on_client = work & (client_i >= 0) & (client_i < n_cl)
    labour.client_qh[:, k] = np.bincount(client_i[on_client], weights=qh_i[on_client],
                                         minlength=n_cl)
    labour.staff_qh[:, k] = np.bincount(staff_i[work], weights=qh_i[work], minlength=staff.n)

    has_rate = invoiced_i & (client_i >= 0)
    columns = {
        "entry_id": _ids("TE", np.arange(next_entry, next_entry + n), 8),
        "staff_id": _take(staff_ids, staff_i),
        "client_id": _take(client_ids, client_i),
        "work_date": _dates(days[date_i]),
        "hours": _dec(qh_i * 25),
        "billable": pa.array(bill_i),
        "work_type": _take(pa.array(WORK_TYPES), wt_i),
        "ticket_id": pc.if_else(
            pa.array(ticket_i >= 0), _ids("T", np.maximum(ticket_i, 0), 7), pa.nulls(n, pa.string())
        ),
        "bill_rate": _dec(rate_i, has_rate),
    }
    return columns, next_ticket
