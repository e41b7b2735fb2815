"""Synthetic exports of a believable managed service provider (MSP), for demos and benchmarks.

MoatMetrics is offline and privacy-first, so nobody can try it on real client data they do
not have. :func:`generate` writes the six input files of the data contract
(``../shared/spec/data-contract.md``) in their canonical column names, shaped so that every
mart of ``metrics.md`` has something to say:

* clients across industries and contract types; mostly active, some inactive (dormant, no
  contract end), some churned (``contract_end`` inside the period, no data afterwards) and
  some won mid-period. Churn has a visible cause (see :data:`CHURN_DECLINE_MONTHS`): over the
  last 4-6 months before its contract ends, a churning client needs ever more reactive
  technician time (remote support and onsite work replace maintenance and projects), shrinks
  its licence seats and managed users (so recurring revenue and the effective hourly rate
  fall) and stops paying (its invoices stay ``overdue``), so a churn model has something true
  to find; a minority of managed clients are under-priced *and* labour-heavy, so
  client profitability shows real losers next to healthy accounts;
* staff in technician tiers, engineers, vCIOs and helpdesk with loaded hourly costs,
  part-timers, joiners (``start_date`` mid-period) and leavers (``end_date``), a few people
  who log well over their contracted hours and some who log too much internal time;
* time entries on weekdays only: support, onsite, maintenance, project and vCIO consulting
  work, internal time (empty ``client_id``), absence (``pto`` and ``holiday`` work types,
  public holidays for everybody), a December dip and summer PTO. ``billable`` is chargeable
  client time as PSA tools record it: work covered by a managed agreement is billable but
  paid by the flat fee, so only hours invoiced by the hour carry a ``bill_rate``;
* one invoice per client and month, dated on the month's last weekday and due 30 days later,
  with recurring, license resale, labour, project and hardware lines, credits (negative
  amounts), drafts and pending invoices in the last month, overdue ones from slow payers and
  voided invoices that were re-issued under a new number (so revenue double-counts unless
  ``void`` is excluded);
* monthly license snapshots per client and product with waste (unused seats), unbilled
  seats, over-deployment (assigned > purchased) and unknown ``seats_billed``;
* expenses: overhead (empty ``client_id``) and client costs (hardware bought for resale,
  travel to onsite visits, subcontractors, per-endpoint tooling).

Determinism: every random draw comes from ``numpy.random.default_rng`` seeded with
``(seed, component, month)``, so the same seed gives byte-identical files and the result does
not depend on how the work is chunked. The default ``end_month`` is fixed (2026-09-01) so the
output does not depend on today's date; it is the latest month whose last date (an invoice's
due date, 30 days after the month's last weekday) is not after the day this generator was
written, and :func:`generate` refuses an ``end_month`` that would produce dates after today.
License ``term_end_date`` is the end of the current monthly term for that reason (annual
renewals would lie in the future).

Scales: ``small`` (40 clients, 15 staff, ~25k time entries, well under a second), ``1m``
(1,500 clients, 400 staff, ~1M time entries) and ``10m`` (15,000 clients, 4,000 staff, ~10M
time entries). Time entries are generated and written one month at a time, so ``10m`` never
holds more than one month of entries in memory. Everything is vectorised with numpy and
written with ``pyarrow.csv``; Python loops only run over months, products or line kinds.

Injected defects (see :data:`INJECTED_DEFECTS`): a small, fixed number of row-level problems
so the quality gate has something real to find. They are only in ``time_entries.csv`` and
``invoices.csv`` and are far below the 1% of rows that would reject a whole file; every other
row of every file is valid and no value fails to parse as its contract type.

* ``time_entries.csv``: 5 entries with hours 15, 20, 18, 22 and 16 (minutes exported as
  hours? still <= 24, so a warning, not a rejection), in months 4, 9, 14, 18 and 22 of the
  24-month period;
* ``time_entries.csv``: 1 entry with ``staff_id`` ``S9999``, which is not in staff.csv
  (month 11);
* ``time_entries.csv``: 1 entry with ``client_id`` ``C99999``, which is not in clients.csv
  (month 16);
* ``invoices.csv``: 1 labour line with ``currency`` ``EUR`` (rejected until FX rates are
  configured; month 7);
* ``invoices.csv``: 1 labour line whose ``amount`` is 100.00 more than quantity x unit_price
  (month 13).

A work date after the upload date is deliberately *not* injected: such a date would have to
lie after today, which this generator never writes.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from moatmetrics.demo_data.clients import _clients
from moatmetrics.demo_data.columns import _CsvFile, _dates, _write
from moatmetrics.demo_data.events import (
    _plan,
    _plant_capacity_crunch,
    _story_labels,
    crunch_leaving_date,
)
from moatmetrics.demo_data.expenses import _expenses
from moatmetrics.demo_data.invoices import _invoices
from moatmetrics.demo_data.licenses import _licenses
from moatmetrics.demo_data.scales import (
    CHURNED_MIN,
    COLUMNS,
    DEFAULT_END_MONTH,
    HOURS_SPIKE_VALUES,
    INJECTED_DEFECTS,
    MONTHS,
    PAYMENT_TERMS_DAYS,
    SCALES,
    InjectedDefect,
    ScaleSpec,
)
from moatmetrics.demo_data.staff import _staff
from moatmetrics.demo_data.time_entries import _Labour, _time_month
from moatmetrics.demo_data.work_calendar import _calendar

__all__ = [
    "CHURNED_MIN",
    "HOURS_SPIKE_VALUES",
    "COLUMNS",
    "DEFAULT_END_MONTH",
    "INJECTED_DEFECTS",
    "MONTHS",
    "SCALES",
    "InjectedDefect",
    "ScaleSpec",
    "generate",
]


def _latest_date(end_month: date) -> date:
    """The last date the output contains: the due date of the last month's invoices, or the
    planted leavers' known leaving date (`events.crunch_leaving_date`), whichever is later."""
    last_day = date(end_month.year, end_month.month,
                    calendar.monthrange(end_month.year, end_month.month)[1])
    while last_day.weekday() >= 5:
        last_day -= timedelta(days=1)
    leaving = crunch_leaving_date(_calendar(end_month)).astype(date)
    return max(last_day + timedelta(days=PAYMENT_TERMS_DAYS), leaving)


def generate(
    out_dir: Path, seed: int = 42, scale: str = "small", end_month: date | None = None,
    labels: Path | None = None,
) -> dict[str, int]:
    """Write the six demo CSV files into ``out_dir`` and return the data rows of each file.

    ``end_month`` is the last month of the 24 months of history (any day in it will do). It
    must leave every generated date (the last invoices' due dates) on or before today, because
    future dates are themselves a data-quality finding the demo must not trigger by accident.
    ``labels``, when given, is where the labelled events go (:mod:`.events`): a file apart
    from ``out_dir``, so ingesting the folder never sees it.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    end_month = (end_month or DEFAULT_END_MONTH).replace(day=1)
    if _latest_date(end_month) > date.today():
        raise ValueError(
            f"end_month {end_month:%Y-%m} would write dates up to {_latest_date(end_month)}, "
            f"after today; choose an earlier month"
        )
    spec = SCALES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cal = _calendar(end_month)
    n_pods = max(1, spec.staff // 10)

    clients, client_cols = _clients(seed, spec, cal, n_pods)
    staff, staff_cols = _staff(seed, spec, cal, n_pods)
    active = clients.active(cal.months)
    plan = _plan(seed, cal, clients, staff)
    _story_labels(plan, cal, clients)
    staff_cols["end_date"] = _dates(_plant_capacity_crunch(
        plan, cal, staff, np.array(staff_cols["end_date"].to_numpy(zero_copy_only=False),
                                   dtype="datetime64[D]"),
        staff.daily_qh * np.array(staff_cols["billable_target"].to_pylist(), dtype=float),
    ))  # fmt: skip
    counts = {
        "clients.csv": _write(out_dir / "clients.csv", COLUMNS["clients"], client_cols),
        "staff.csv": _write(out_dir / "staff.csv", COLUMNS["staff"], staff_cols),
    }

    seats, license_cols = _licenses(seed, cal, clients, active, plan)
    counts["licenses.csv"] = _write(out_dir / "licenses.csv", COLUMNS["licenses"], license_cols)
    del license_cols

    shape = (clients.n, cal.months)
    labour = _Labour(np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64),
                     np.zeros(shape), np.zeros((staff.n, cal.months)))
    out = _CsvFile(out_dir / "time_entries.csv", COLUMNS["time_entries"])
    try:
        next_entry, next_ticket = 1, 1_000_001
        for k in range(cal.months):
            cols, next_ticket = _time_month(seed, k, cal, staff, clients, active, next_entry,
                                            next_ticket, labour, plan)
            out.write(cols)
            next_entry = out.rows + 1
    finally:
        out.close()
    counts["time_entries.csv"] = out.rows

    invoice_cols, hardware, revenue = _invoices(seed, cal, clients, active, seats, labour,
                                                 plan)
    counts["invoices.csv"] = _write(out_dir / "invoices.csv", COLUMNS["invoices"], invoice_cols)
    expense_cols = _expenses(seed, cal, clients, staff, active, labour, hardware, revenue,
                             plan)
    counts["expenses.csv"] = _write(out_dir / "expenses.csv", COLUMNS["expenses"], expense_cols)
    if labels is not None:
        plan.write(Path(labels))
    return {name: counts[name] for name in (f"{e}.csv" for e in COLUMNS)}
