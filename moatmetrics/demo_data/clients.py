"""``clients.csv``: industries, contract types, status mix, wins, churn and its decline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from moatmetrics.demo_data.columns import _cents, _dates, _dec, _ids, _rng, _round_to, _take
from moatmetrics.demo_data.domain import (
    _BREAK_FIX,
    _MANAGED,
    _OTHER,
    _PROJECT,
    _S_CLIENTS,
    CONTRACT_TYPES,
    CONTRACT_WEIGHTS,
    INDUSTRIES,
    NAME_SUFFIXES,
    PLACES,
)
from moatmetrics.demo_data.scales import CHURN_DECLINE_MONTHS, CHURNED_MIN, CHURNED_SHARE, ScaleSpec
from moatmetrics.demo_data.work_calendar import _Calendar


@dataclass
class _Clients:
    """What the other generators need to know about each client (index = client number)."""

    ids: pa.Array
    contract: np.ndarray  # index into CONTRACT_TYPES
    first_m: np.ndarray  # first active month index
    last_m: np.ndarray  # last active month index (inclusive)
    users: np.ndarray
    endpoints: np.ndarray
    per_user_cents: np.ndarray  # managed: price per user; other: flat monthly plan
    rate_cents: np.ndarray  # hourly bill rate
    project_rate_cents: np.ndarray
    labour_weight: np.ndarray  # int64, relative demand for technician time
    pod: np.ndarray
    slow_payer: np.ndarray
    decline: np.ndarray  # (client, month) in [0, 1]: how far into its pre-churn decline

    @property
    def n(self) -> int:
        return len(self.contract)

    def active(self, months: int) -> np.ndarray:
        m = np.arange(months)
        return (m[None, :] >= self.first_m[:, None]) & (m[None, :] <= self.last_m[:, None])


def _client_names(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    """Unique, plausible business names ("Cedar Family Dental LLC"), drawn without repeats."""
    names = np.empty(len(industry), dtype=object)
    for i, (_, nouns) in enumerate(INDUSTRIES.values()):
        where = np.flatnonzero(industry == i)
        space = len(PLACES) * len(nouns) * len(NAME_SUFFIXES)
        if len(where) > space:
            raise ValueError("too many clients for the name space of one industry")
        pick = rng.choice(space, size=len(where), replace=False)
        place, rest = np.divmod(pick, len(nouns) * len(NAME_SUFFIXES))
        noun, suffix = np.divmod(rest, len(NAME_SUFFIXES))
        names[where] = [
            f"{PLACES[p]} {nouns[n]}{NAME_SUFFIXES[s]}"
            for p, n, s in zip(place, noun, suffix, strict=True)
        ]
    return names


def _clients(
    seed: int, spec: ScaleSpec, cal: _Calendar, n_pods: int,
) -> tuple[_Clients, dict[str, pa.Array]]:
    """The client book, plus what later steps need (activity window, size, prices, demand)."""
    rng = _rng(seed, _S_CLIENTS)
    n, months = spec.clients, cal.months
    ind_weights = np.array([w for w, _ in INDUSTRIES.values()])
    industry = rng.choice(len(INDUSTRIES), size=n, p=ind_weights / ind_weights.sum())
    # Fixed shares (not independent draws) so every contract type shows up even in 40 clients.
    per_type = np.floor(np.array(CONTRACT_WEIGHTS) * n).astype(np.int64)
    per_type[_MANAGED] += n - per_type.sum()
    contract = rng.permutation(np.repeat(np.arange(len(CONTRACT_TYPES)), per_type))

    # Statuses with fixed counts so even the small scale has churn and dormant accounts.
    order = rng.permutation(n)
    n_churned = max(CHURNED_MIN, round(CHURNED_SHARE * n))
    n_inactive = max(2, round(0.06 * n))
    churnable = order[np.isin(contract[order], (_MANAGED, _OTHER))]
    churned = np.sort(churnable[:n_churned])
    dormant_pool = order[~np.isin(order, churned)]
    dormant_pool = dormant_pool[np.isin(contract[dormant_pool], (_BREAK_FIX, _PROJECT, _OTHER))]
    inactive = np.sort(dormant_pool[:n_inactive])
    status = np.zeros(n, dtype=np.int8)  # 0 active, 1 inactive, 2 churned
    status[inactive] = 1
    status[churned] = 2

    first_m = np.zeros(n, dtype=np.int64)
    last_m = np.full(n, months - 1, dtype=np.int64)
    # Churn months spread evenly over the period (after enough history to see a decline), so
    # a time-based validation split finds churners on both sides.
    last_m[churned] = rng.permutation(np.round(np.linspace(8, months - 3, len(churned))))
    last_m[inactive] = rng.integers(4, months - 3, size=len(inactive))
    # New logos: ~15% of the clients still active were won during the period.
    active_idx = np.flatnonzero(status == 0)
    n_new = max(2, round(0.15 * len(active_idx)))
    new = rng.choice(active_idx, size=n_new, replace=False)
    first_m[new] = rng.integers(1, months - 3, size=n_new)

    start = cal.month_start[first_m] - rng.integers(30, 3000, size=n).astype("timedelta64[D]")
    start[new] = cal.month_start[first_m[new]]
    contract_end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    contract_end[churned] = cal.month_end[last_m[churned]]

    users = np.clip(np.round(rng.lognormal(np.log(30), 0.8, size=n)), 3, 600).astype(np.int64)
    users[contract == _BREAK_FIX] = np.maximum(3, users[contract == _BREAK_FIX] // 2)
    endpoints = np.round(users * rng.uniform(1.1, 1.5, size=n)).astype(np.int64)
    endpoints += rng.integers(0, 7, size=n)

    managed = contract == _MANAGED
    per_user = _round_to(rng.uniform(115, 175, size=n), 5)
    intensity = rng.lognormal(0.0, 0.35, size=n)
    # Under-priced, labour-hungry managed accounts: the losers the profitability mart finds.
    # They are small offices (cheap deal, messy network), not the largest accounts, which would
    # otherwise soak up the technicians' hours and hide the loss in everyone else's margin.
    managed_idx = np.flatnonzero(managed)
    smaller_half = managed_idx[users[managed_idx] <= np.median(users[managed_idx])]
    n_under = max(2, round(0.15 * len(managed_idx)))
    under = rng.choice(smaller_half, size=min(n_under, len(smaller_half)), replace=False)
    per_user[under] = _round_to(rng.uniform(60, 85, size=len(under)), 5)
    intensity[under] *= rng.uniform(4.0, 5.5, size=len(under))
    flat_plan = _round_to(rng.uniform(250, 1500, size=n), 50)
    per_user_cents = np.where(managed, _cents(per_user), 0)
    per_user_cents = np.where(contract == _OTHER, _cents(flat_plan), per_user_cents)
    mcv = np.where(managed, users * per_user_cents, per_user_cents)

    rate = rng.choice(np.array([125, 135, 140, 150, 160, 175]), size=n)
    rate = np.where(contract == _BREAK_FIX, rng.choice(np.array([165, 175, 185, 195]), size=n),
                    rate)
    rate = np.where(contract == _PROJECT, rng.choice(np.array([150, 160, 175, 185]), size=n),
                    rate)
    project_rate = rate + rng.choice(np.array([0, 10, 20]), size=n)
    type_factor = np.array([1.0, 0.5, 1.2, 0.25])[contract]
    weight = np.round(users**0.85 * intensity * type_factor * 1000).astype(np.int64)
    pod = rng.permutation(np.arange(n) % n_pods)
    slow_payer = rng.random(n) < 0.05

    names = _client_names(rng, industry)
    decline = _decline(rng, months, churned, last_m)
    ids = _ids("C", np.arange(1, n + 1), 5)
    not_managed_counts = np.isin(contract, (_BREAK_FIX, _PROJECT))
    columns = {
        "client_id": ids,
        "client_name": pa.array(names, pa.string()),
        "industry": _take(pa.array(list(INDUSTRIES)), industry),
        "status": _take(pa.array(["active", "inactive", "churned"]), status.astype(np.int64)),
        "contract_type": _take(pa.array(CONTRACT_TYPES), contract),
        "contract_start": _dates(start),
        "contract_end": _dates(contract_end),
        "monthly_contract_value": _dec(mcv),
        "managed_users": pa.array(users, pa.int64(), mask=not_managed_counts),
        "managed_endpoints": pa.array(endpoints, pa.int64(), mask=not_managed_counts),
    }
    clients = _Clients(
        ids=ids, contract=contract, first_m=first_m, last_m=last_m, users=users,
        endpoints=endpoints, per_user_cents=per_user_cents, rate_cents=_cents(rate),
        project_rate_cents=_cents(project_rate), labour_weight=weight, pod=pod,
        slow_payer=slow_payer, decline=decline,
    )
    return clients, columns


def _decline(
    rng: np.random.Generator, months: int, churned: np.ndarray, last_m: np.ndarray,
) -> np.ndarray:
    """Per client and month, 0 (healthy) rising linearly to 1 in a churned client's last month.

    The ramp starts 4-6 months before the contract ends; every generator that shapes a
    client's month (labour demand, work mix, seats, managed users, payment) reads it.
    """
    decline = np.zeros((len(last_m), months))
    lo, hi = CHURN_DECLINE_MONTHS
    length = rng.integers(lo, hi + 1, size=len(churned))
    m = np.arange(months)
    first = last_m[churned] - length + 1
    ramp = (m[None, :] - first[:, None] + 1) / length[:, None]
    decline[churned] = np.where(m[None, :] <= last_m[churned][:, None], np.clip(ramp, 0, 1), 0)
    return decline
