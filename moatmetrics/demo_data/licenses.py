"""``licenses.csv``: monthly seat snapshots per client and product, with waste, unbilled seats,
over-deployment and unknown ``seats_billed``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from moatmetrics.demo_data.clients import _Clients
from moatmetrics.demo_data.columns import _dates, _dec, _rng, _take
from moatmetrics.demo_data.domain import (
    _ACRONIS,
    _BP,
    _BS,
    _DATTO,
    _EXO,
    _HUNTRESS,
    _KB4,
    _MDO,
    _S1,
    _S_LICENSES,
    PRODUCT_P,
    PRODUCTS,
)
from moatmetrics.demo_data.events import _Plan, _plant_seats
from moatmetrics.demo_data.scales import DECLINE_SEAT_LOSS
from moatmetrics.demo_data.work_calendar import _Calendar


@dataclass
class _Seats:
    """Licence seats per client-product and month, for the licence lines of invoices."""

    client: np.ndarray  # per client-product
    product: np.ndarray
    price_cents: np.ndarray
    assigned: np.ndarray  # (client-product, month)
    billed: np.ndarray  # -1 = unknown


def _licenses(
    seed: int, cal: _Calendar, clients: _Clients, active: np.ndarray, plan: _Plan,
) -> tuple[_Seats, dict[str, pa.Array]]:
    """Monthly seat snapshots; also returns the billed seats, which invoices must resell."""
    rng = _rng(seed, _S_LICENSES)
    n, months = clients.n, cal.months
    contract = clients.contract

    has = np.zeros((n, len(PRODUCTS)), dtype=bool)
    for a, b in ((_BP, _BS), (_S1, _HUNTRESS)):
        pa_, pb = (np.array(PRODUCT_P[p])[contract] for p in (a, b))
        r = rng.random(n)
        has[:, a] = r < pa_
        has[:, b] = (r >= pa_) & (r < pa_ + pb)
    for p in (_EXO, _MDO, _ACRONIS, _DATTO, _KB4):
        has[:, p] = rng.random(n) < np.array(PRODUCT_P[p])[contract]
    cp_client, cp_product = np.nonzero(has)
    n_cp = len(cp_client)

    # Headcount drifts ~2% a month; today's count is clients.managed_users.
    steps = rng.normal(0.003, 0.02, size=(n, months)).cumsum(axis=1)
    growth = np.exp(steps - steps[:, -1:]) * (1 - DECLINE_SEAT_LOSS * clients.decline)
    basis_of = {
        "users": np.maximum(1, np.round(clients.users[:, None] * growth)),
        "endpoints": np.maximum(1, np.round(clients.endpoints[:, None] * growth)),
        "mailboxes": np.maximum(
            1, np.round(clients.users[:, None] * growth * rng.uniform(0.1, 0.3, size=(n, 1)))
        ),
    }
    basis = np.empty((n_cp, months))
    for kind, matrix in basis_of.items():
        rows = np.array([PRODUCTS[p].basis == kind for p in cp_product], dtype=bool)
        basis[rows] = matrix[cp_client[rows]]

    # Waste: most buy what they use, some keep a buffer, a few are badly over-bought.
    slack_class = rng.choice(3, size=n_cp, p=(0.55, 0.30, 0.15))
    slack = np.choose(slack_class, (np.zeros(n_cp), rng.uniform(0.03, 0.15, n_cp),
                                    rng.uniform(0.2, 0.6, n_cp)))
    purchased = np.ceil(basis * (1 + slack[:, None])).astype(np.int64)
    sticky = rng.random(n_cp) < 0.4  # seats bought are rarely given back
    purchased[sticky] = np.maximum.accumulate(purchased[sticky], axis=1)
    assigned = np.minimum(basis.astype(np.int64), purchased)
    assigned -= rng.choice(3, size=(n_cp, 1), p=(0.7, 0.2, 0.1))
    assigned = np.maximum(assigned, 0)
    # Fixed-size anomaly groups, disjoint, so even 40 clients show every recommendation and
    # every utilisation band; the rest of the activity levels are drawn freely.
    perm = rng.permutation(n_cp)
    sizes = np.cumsum([0, max(2, round(0.03 * n_cp)), max(2, round(0.04 * n_cp)),
                       max(3, round(0.10 * n_cp)), max(2, round(0.03 * n_cp))])
    over, unknown, unbilled, critical = (perm[a:b] for a, b in zip(sizes[:-1], sizes[1:],
                                                                    strict=True))
    act_class = rng.choice(4, size=n_cp, p=(0.75, 0.15, 0.07, 0.03))
    act_class[critical] = 3
    act_rate = np.choose(act_class, (rng.uniform(0.88, 1.0, n_cp), rng.uniform(0.6, 0.85, n_cp),
                                     rng.uniform(0.35, 0.55, n_cp), rng.uniform(0.1, 0.28, n_cp)))
    active_seats = np.round(assigned * act_rate[:, None]
                            * rng.normal(1.0, 0.03, size=(n_cp, months)))
    billed = assigned.copy()
    span = clients.last_m[cp_client[over]] - clients.first_m[cp_client[over]] + 1
    over_from = clients.first_m[cp_client[over]] + rng.integers(0, np.maximum(span // 2, 1))
    m = np.arange(months)
    extra = rng.integers(1, 4, size=(len(over), 1)) * (m[None, :] >= over_from[:, None])
    assigned[over] = purchased[over] + extra
    billed[over] = assigned[over]
    short = rng.integers(1, 6, size=(len(unbilled), 1))
    billed[unbilled] = np.maximum(assigned[unbilled] - short, 0)
    billed[unknown] = -1
    active_seats = np.clip(active_seats, 0, assigned).astype(np.int64)
    normal = billed == assigned
    normal[np.concatenate((over, unknown, unbilled, critical))] = False
    _plant_seats(plan, seed, cal, clients, cp_client,
                 [(PRODUCTS[p].vendor, PRODUCTS[p].product) for p in cp_product],
                 normal.all(axis=1), purchased, assigned, active_seats)

    # Each client pays one of the product's three price points, for all months.
    price_points = np.array([p.prices for p in PRODUCTS], dtype=np.int64)
    price = price_points[cp_product, rng.integers(0, price_points.shape[1], size=n_cp)]

    # One row per client-product and month the client is active, ordered month/client/product.
    ci, mi = np.nonzero(active[cp_client])
    order = np.lexsort((cp_product[ci], cp_client[ci], mi))
    ci, mi = ci[order], mi[order]
    prod = cp_product[ci]
    term_known = np.array([p.term_known for p in PRODUCTS])[prod]
    b = billed[ci, mi]
    columns = {
        "client_id": _take(clients.ids, cp_client[ci]),
        "vendor": _take(pa.array([p.vendor for p in PRODUCTS]), prod),
        "product": _take(pa.array([p.product for p in PRODUCTS]), prod),
        "sku": _take(pa.array([p.sku for p in PRODUCTS]), prod),
        "snapshot_date": _dates(cal.month_start[mi]),
        "seats_purchased": pa.array(purchased[ci, mi]),
        "seats_assigned": pa.array(assigned[ci, mi]),
        "seats_active": pa.array(active_seats[ci, mi]),
        "seats_billed": pa.array(b, pa.int64(), mask=b < 0),
        "unit_cost": _dec(np.array([p.unit_cost for p in PRODUCTS], dtype=np.int64)[prod]),
        "unit_price": _dec(price[ci]),
        "term_end_date": _dates(cal.month_end[mi], term_known),
    }
    return _Seats(cp_client, cp_product, price, assigned, billed), columns
