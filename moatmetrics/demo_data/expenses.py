"""``expenses.csv``: overhead and client costs (hardware for resale, travel, subcontractors,
per-endpoint tooling)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike

from moatmetrics.demo_data.clients import _Clients
from moatmetrics.demo_data.columns import _cents, _dates, _dec, _ids, _rng, _round_to, _take
from moatmetrics.demo_data.domain import _MANAGED, _S_EXPENSES, OVERHEAD
from moatmetrics.demo_data.events import _month, _Plan, _plant_margin_collapses
from moatmetrics.demo_data.staff import _Staff
from moatmetrics.demo_data.time_entries import _Labour
from moatmetrics.demo_data.work_calendar import _Calendar


def _expenses(
    seed: int, cal: _Calendar, clients: _Clients, staff: _Staff, active: np.ndarray,
    labour: _Labour, hardware: dict[str, np.ndarray], revenue: np.ndarray, plan: _Plan,
) -> dict[str, pa.Array]:
    """Overhead plus client costs that follow from the other files (hardware, onsite trips)."""
    rng = _rng(seed, _S_EXPENSES)
    n, months = clients.n, cal.months
    categories = [o[0] for o in OVERHEAD] + ["hardware", "travel", "subcontractor", "tooling"]
    c_parts: list[np.ndarray] = []
    m_parts: list[np.ndarray] = []
    cat_parts: list[np.ndarray] = []
    amt_parts: list[np.ndarray] = []

    def add(c: ArrayLike, m: np.ndarray, cat: int, amount: ArrayLike) -> None:
        c_parts.append(np.broadcast_to(c, (len(m),)).astype(np.int64))
        m_parts.append(np.asarray(m, dtype=np.int64))
        cat_parts.append(np.full(len(m), cat, dtype=np.int64))
        amt_parts.append(np.asarray(amount, dtype=np.int64))

    # Overhead: scales with headcount, lands on no client.
    m = np.arange(months)
    for i, (_, per_staff, noise) in enumerate(OVERHEAD):
        amount = per_staff * staff.n * rng.uniform(1 - noise, 1 + noise, size=months)
        add(-1, m, i, np.round(amount).astype(np.int64))

    base = len(OVERHEAD)
    # Hardware bought for resale at ~80% of its price.
    add(hardware["client"], hardware["month"], base,
        np.round(hardware["cost"] * rng.uniform(0.75, 0.85, len(hardware["cost"]))))
    # Mileage and parking for onsite visits.
    c, m = np.nonzero(labour.onsite_visits > 0)
    add(c, m, base + 1, labour.onsite_visits[c, m] * rng.integers(1800, 4500, size=len(c)))
    # Subcontracted specialists on some project months.
    c, m = np.nonzero((labour.project_qh > 0) & (rng.random((n, months)) < 0.05))
    bills = _cents(_round_to(rng.uniform(800, 5000, size=len(c)), 50))
    add(c, m, base + 2, bills)
    for i, k, cents in zip(c.tolist(), m.tolist(), bills.tolist(), strict=True):
        client = str(clients.ids[i])
        plan.label("subcontractor_bill", "client", client, client, _month(cal, k), False,
                   f"a subcontractor bill of {cents / 100:,.2f} on a project month")
    # Planted margin collapses (demo_data.events): a subcontractor bill of 3-4x the revenue.
    natural = np.zeros((n, months), dtype=bool)
    natural[c, m] = True
    c, m, bills = _plant_margin_collapses(plan, seed, cal, clients, revenue, natural)
    add(c, m, base + 2, bills)
    # Per-endpoint RMM, PSA and backup-storage tooling of managed clients.
    c, m = np.nonzero(active & (clients.contract == _MANAGED)[:, None])
    add(c, m, base + 3, np.round(clients.endpoints[c] * rng.uniform(150, 230, size=len(c))))

    c, m, cat, amount = (np.concatenate(x) for x in (c_parts, m_parts, cat_parts, amt_parts))
    # Rent and insurance are paid on the 1st, everything else on a random weekday.
    flat = np.concatenate(cal.weekdays)
    per_month = np.array([len(w) for w in cal.weekdays])
    first = np.concatenate(([0], np.cumsum(per_month)[:-1]))
    day = flat[first[m] + np.floor(rng.random(len(m)) * per_month[m]).astype(np.int64)]
    day = np.where(np.isin(cat, (0, 2)), cal.month_start[m], day)
    order = np.lexsort((c, cat, day))
    c, cat, amount, day = c[order], cat[order], amount[order], day[order]
    return {
        "expense_id": _ids("EX-", np.arange(1, len(c) + 1), 7),
        "client_id": _take(clients.ids, c),
        "expense_date": _dates(day),
        "amount": _dec(amount),
        "category": _take(pa.array(categories), cat),
    }
