"""``invoices.csv``: one invoice per client and month with recurring, license, labour, project
and hardware lines, credits, drafts, overdue and voided-then-reissued invoices."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike

from moatmetrics.demo_data.clients import _Clients
from moatmetrics.demo_data.columns import _cents, _dates, _dec, _ids, _rng, _round_to, _take
from moatmetrics.demo_data.domain import (
    _BREAK_FIX,
    _CAT_HARDWARE,
    _CAT_LABOR,
    _CAT_LICENSE,
    _CAT_OTHER,
    _CAT_PROJECT,
    _CAT_RECURRING,
    _MANAGED,
    _OTHER,
    _S_DEFECTS,
    _S_INVOICES,
    CATEGORIES,
    FIXED_SKUS,
    HARDWARE,
    PRODUCTS,
)
from moatmetrics.demo_data.events import _month, _Plan, _plant_revenue_drops
from moatmetrics.demo_data.licenses import _Seats
from moatmetrics.demo_data.scales import (
    AMOUNT_MISMATCH_CENTS,
    AMOUNT_MISMATCH_MONTH,
    CURRENCY,
    DECLINE_SEAT_LOSS,
    DECLINE_UNPAID_P,
    FOREIGN_CURRENCY,
    FOREIGN_CURRENCY_MONTH,
    PAYMENT_TERMS_DAYS,
)
from moatmetrics.demo_data.time_entries import _Labour
from moatmetrics.demo_data.work_calendar import _Calendar


def _invoices(
    seed: int, cal: _Calendar, clients: _Clients, active: np.ndarray, seats: _Seats,
    labour: _Labour, plan: _Plan,
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray], np.ndarray]:
    """Invoice lines; also returns the hardware resold, which expenses must have bought, and
    the revenue invoiced per client and month (cents), which sizes planted cost events."""
    rng = _rng(seed, _S_INVOICES)
    n, months = clients.n, cal.months
    skus = [*FIXED_SKUS, *(p.sku for p in PRODUCTS), *(h for h, _ in HARDWARE)]
    sku_of = {s: i for i, s in enumerate(skus)}
    blocks: list[tuple[np.ndarray, ...]] = []

    def add(c: np.ndarray, m: np.ndarray, order: ArrayLike, cat: int, sku: ArrayLike,
            qty_cents: ArrayLike, price_cents: ArrayLike, amount_cents: ArrayLike) -> None:
        size = len(c)
        blocks.append(tuple(np.broadcast_to(np.asarray(x, dtype=np.int64), (size,)).copy()
                            for x in (c, m, order, cat, sku, qty_cents, price_cents,
                                      amount_cents)))

    # Recurring: per-user managed fee or a flat care plan, billed for the month.
    c, m = np.nonzero(active & np.isin(clients.contract, (_MANAGED, _OTHER))[:, None])
    is_managed = clients.contract[c] == _MANAGED
    users_now = np.maximum(1, np.round(clients.users[c] * (1 - DECLINE_SEAT_LOSS
                                                            * clients.decline[c, m])))
    qty = np.where(is_managed, users_now, 1).astype(np.int64)
    price = clients.per_user_cents[c]
    add(c, m, 0, _CAT_RECURRING, np.where(is_managed, sku_of["MSP-MANAGED-USER"],
                                          sku_of["MSP-CARE-PLAN"]),
        qty * 100, price, qty * price)

    # Licence resale: what the snapshot says is billed (assigned when that is unknown).
    cp, m = np.nonzero(active[seats.client])
    qty = np.where(seats.billed[cp, m] >= 0, seats.billed[cp, m], seats.assigned[cp, m])
    keep = qty > 0
    cp, m, qty = cp[keep], m[keep], qty[keep]
    price = seats.price_cents[cp]
    add(seats.client[cp], m, 10 + seats.product[cp], _CAT_LICENSE,
        len(FIXED_SKUS) + seats.product[cp], qty * 100, price, qty * price)

    # Time invoiced by the hour, on the invoice of the month it was worked (so a month's
    # labour cost and labour revenue meet in the same client_profitability row).
    for qh, order, cat, sku, rate in (
        (labour.support_qh, 30, _CAT_LABOR, "LABOR-SUPPORT", clients.rate_cents),
        (labour.project_qh, 31, _CAT_PROJECT, "LABOR-PROJECT", clients.project_rate_cents),
    ):
        c, m = np.nonzero(qh > 0)
        q = qh[c, m].astype(np.int64)
        add(c, m, order, cat, sku_of[sku], q * 25, rate[c], q * rate[c] // 4)

    # Hardware resale (~4% of client-months) and credits (~2%, SLA misses and goodwill).
    c, m = np.nonzero(active & (rng.random((n, months)) < 0.04)
                      & np.isin(clients.contract, (_MANAGED, _BREAK_FIX))[:, None])
    item = rng.integers(0, len(HARDWARE), size=len(c))
    qty = rng.integers(1, 5, size=len(c))
    price = np.array([p for _, p in HARDWARE], dtype=np.int64)[item]
    add(c, m, 40, _CAT_HARDWARE, sku_of["HW-LAPTOP"] + item, qty * 100, price, qty * price)
    hardware = {"client": c, "month": m, "cost": qty * price}
    c, m = np.nonzero(active & (rng.random((n, months)) < 0.02))
    credit = -_cents(_round_to(rng.uniform(50, 500, size=len(c)), 5))
    add(c, m, 50, _CAT_OTHER, np.where(rng.random(len(c)) < 0.6, sku_of["CREDIT-SLA"],
                                       sku_of["CREDIT-GOODWILL"]), 100, credit, credit)

    c, m, order, cat, sku, qty, price, amount = (np.concatenate(x) for x in zip(*blocks,
                                                                                 strict=True))
    # Planted revenue drops (demo_data.events): a month's invoice never sent.
    revenue = np.zeros((n, months), dtype=np.int64)
    np.add.at(revenue, (c, m), amount)
    missed = np.zeros((n, months), dtype=bool)
    for event in _plant_revenue_drops(plan, seed, cal, clients, revenue):
        missed[event.index, event.month] = True
    keep = ~missed[c, m]
    c, m, order, cat, sku, qty, price, amount = (
        x[keep] for x in (c, m, order, cat, sku, qty, price, amount)
    )
    lines = np.lexsort((order, c, m))
    c, m, cat, sku, qty, price, amount = (x[lines] for x in (c, m, cat, sku, qty, price, amount))
    inv_key = m * n + c
    new_inv = np.ones(len(c), dtype=bool)
    new_inv[1:] = inv_key[1:] != inv_key[:-1]
    inv = np.cumsum(new_inv) - 1
    starts = np.flatnonzero(new_inv)
    line_no = np.arange(len(c)) - starts[inv] + 1
    inv_c, inv_m = c[starts], m[starts]
    n_inv = len(starts)

    # Status from the invoice's age at the end of the data, then voids (re-issued).
    age = months - 1 - inv_m
    u = rng.random(n_inv)
    status = np.full(n_inv, "paid", dtype=object)
    status[(age == 1) & (u < 0.4)] = "sent"
    status[(age >= 2) & (age <= 4) & clients.slow_payer[inv_c]] = "overdue"
    status[(age >= 2) & (u < 0.01)] = "overdue"
    # A client on its way out stops paying: its invoices stay overdue.
    unpaid = rng.random(n_inv) < DECLINE_UNPAID_P * clients.decline[inv_c, inv_m]
    status[unpaid & np.isin(status, ("paid", "sent"))] = "overdue"
    last = age == 0
    status[last] = np.where(u[last] < 0.10, "draft", np.where(u[last] < 0.15, "pending",
                                                                 "sent"))
    for forced, where in (("draft", last), ("overdue", age == 3)):
        if not (status == forced).any() and where.any():
            status[np.flatnonzero(where)[0]] = forced
    older = np.flatnonzero(age >= 1)
    voided = np.sort(rng.choice(older, size=min(len(older), max(2, round(0.01 * n_inv))),
                                replace=False))
    reissue_status = status[voided].copy()
    for i in np.flatnonzero(status == "draft").tolist():
        client = str(clients.ids[inv_c[i]])
        plan.label("draft_invoice", "client", client, client, _month(cal, int(inv_m[i])),
                   False, "the month's invoice is still a draft: no revenue yet")
    status[voided] = "void"

    # Re-issued invoices repeat the voided lines under a later number in the same month.
    dup = np.flatnonzero(np.isin(inv, voided))
    dup_inv = n_inv + np.searchsorted(voided, inv[dup])
    all_inv = np.concatenate((inv, dup_inv))
    inv_month = np.concatenate((inv_m, inv_m[voided]))
    inv_status = np.concatenate((status, reissue_status))
    number = np.empty(len(inv_month), dtype=np.int64)
    number[np.lexsort((np.arange(len(inv_month)), inv_month))] = np.arange(len(inv_month))
    take = np.concatenate((np.arange(len(c)), dup))
    line_order = np.lexsort((line_no[take], number[all_inv]))
    take, all_inv = take[line_order], all_inv[line_order]

    c, m, cat, sku, qty, price, amount, line_no = (
        x[take] for x in (c, m, cat, sku, qty, price, amount, line_no)
    )
    currency = np.zeros(len(c), dtype=np.int64)
    st = inv_status[all_inv]
    drng = _rng(seed, _S_DEFECTS, 100)
    ok = (cat == _CAT_LABOR) & (st != "void") & (st != "draft")
    eur = np.flatnonzero(ok & (m == FOREIGN_CURRENCY_MONTH))
    if len(eur):
        currency[drng.choice(eur)] = 1
    typo = np.flatnonzero(ok & (m == AMOUNT_MISMATCH_MONTH))
    if len(typo):
        amount[drng.choice(typo)] += AMOUNT_MISMATCH_CENTS

    invoice_date = cal.invoice_date[m]
    columns = {
        "invoice_id": _ids("INV-", 100_001 + number[all_inv], 6),
        "line_no": pa.array(line_no),
        "client_id": _take(clients.ids, c),
        "invoice_date": _dates(invoice_date),
        "due_date": _dates(invoice_date + np.timedelta64(PAYMENT_TERMS_DAYS, "D")),
        "status": pa.array(st, pa.string()),
        "category": _take(pa.array(CATEGORIES), cat),
        "sku": _take(pa.array(skus), sku),
        "quantity": _dec(qty),
        "unit_price": _dec(price),
        "amount": _dec(amount),
        "currency": _take(pa.array([CURRENCY, FOREIGN_CURRENCY]), currency),
    }
    return columns, hardware, revenue
