"""Labelled events: the anomalies the demo plants, and the labels of its own story.

The anomaly detector (``moatmetrics.insights.anomalies``) is measured against these labels
(issue 16, point 8). Two sorts of event are labelled, in ``planted_events.csv`` beside (never
among) the exports:

* **planted** (``planted = true``): one-month events of each kind the detector looks for, put
  on a client, licence or staff member that is not in a churn decline, with at least 12 months
  of history before them, and sized to be unmistakable for that entity (documented per kind
  below). Recall is measured on these:

  - ``hours_spike``: a burst of project work, 2-4 new project tickets worked by the client's
    pod, of max(40 h, 2x the client's mean monthly hours, 10x their standard deviation) over
    the previous 12 months;
  - ``revenue_drop``: a billing miss, the month's invoice never sent, where it is at least
    $2,000 and 8 robust standard deviations (median absolute deviation x 1.4826) of the
    client's monthly revenue over the previous 12 months;
  - ``margin_collapse``: a subcontractor bill of 3-4x the client's mean monthly revenue over
    the previous 12 months (at least $2,000), revenue and hours as usual, in a month with no
    other subcontractor bill within a month of it;
  - ``unused_seats_jump``: a bulk order of 50 % more seats (at least 8, and at least twice
    the product's usual unused seats) on the client's largest product, returned the next
    month (bought, never used);
  - ``unbilled_seats_jump``: 40 % more users (at least 6, at most 25) assigned and active on
    the client's largest product, not billed that month;
  - ``staff_hours_spike``: a staff member logs max(40 h, half their mean monthly hours) of
    internal work on top of the month's usual time (a crunch month);

* a **capacity crunch** (``capacity_crunch``, planted, about the team): a tenth of the team
  (at least 2), those with the largest client-work capacity, get a known leaving date in the
  middle of the second month after the data, so the team forecast should run short in the
  third (the label's month); its explanation says so;

* **story** (``planted = false``): what the generator does anyway that can make a month look
  unusual, so a detection there is explained rather than false: a churning client's decline
  months (``churn_decline``: more reactive hours, fewer seats, lower fees), natural
  subcontractor bills on project months (``subcontractor_bill``) and invoices still in draft
  in the last month (``draft_invoice``: no revenue yet). These are not counted for recall:
  most of them are small.

Which detections each label explains is :data:`EXPLAINS`. Events draw from their own random
stream, so every other value of the demo is unchanged outside the planted client-months.
Each planted event is alone on its entity within a month either side (no other planted event,
no churn decline, no natural subcontractor bill next to a margin collapse), so it is one event
to find, not two run together.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moatmetrics.demo_data.clients import _Clients
from moatmetrics.demo_data.columns import _rng
from moatmetrics.demo_data.staff import _Staff
from moatmetrics.demo_data.work_calendar import _Calendar

_S_EVENTS = 7

#: The kinds of anomaly the demo plants, with the entity each one is about.
PLANTED_KINDS: dict[str, str] = {
    "hours_spike": "client",
    "revenue_drop": "client",
    "margin_collapse": "client",
    "unused_seats_jump": "license",
    "unbilled_seats_jump": "license",
    "staff_hours_spike": "staff",
}
#: Label kind -> the detection kinds a label of that kind explains (same entity and month; a
#: client's label also explains detections on its licences).
EXPLAINS: dict[str, tuple[str, ...]] = {
    **{kind: (kind,) for kind in PLANTED_KINDS},
    # what a planted event does to the client's gross profit is part of the same event
    "hours_spike": ("hours_spike", "margin_collapse"),
    "revenue_drop": ("revenue_drop", "margin_collapse"),
    "churn_decline": ("hours_spike", "revenue_drop", "margin_collapse", "unused_seats_jump"),
    "subcontractor_bill": ("margin_collapse",),
    "draft_invoice": ("revenue_drop", "margin_collapse"),
}
LABEL_COLUMNS = ("kind", "entity_type", "entity_key", "client_id", "month", "planted", "detail")
#: Planted events of each kind: at least this many, else this share of the entities.
PLANTED_MIN = 10
PLANTED_SHARE = 0.01
#: Smallest monthly revenue (cents) behind a planted revenue drop or margin collapse.
_MIN_FEE_CENTS = 200_000
#: First month an event may fall in (12 months of history before it).
_HISTORY = 12


@dataclass(frozen=True)
class _Event:
    kind: str
    index: int  # client or staff index
    month: int


@dataclass
class _Plan:
    """The planted events, and every label (planted and story) as the generators add them."""

    events: list[_Event]
    steady: np.ndarray  # (client, month): may carry a planted event
    taken: dict[int, list[int]]  # client -> months of its planted events
    labels: list[dict[str, str]] = field(default_factory=list)

    def draw(
        self, kind: str, pool: np.ndarray, rng: np.random.Generator, entities: int,
        taken: dict[int, list[int]] | None = None,
    ) -> list[_Event]:
        """Draw the kind's events from ``pool`` (entity x month), at least 3 months from the
        entity's other events (``taken``: the clients' by default), and add them."""
        used = self.taken if taken is None else taken
        wanted = max(PLANTED_MIN, round(PLANTED_SHARE * entities))
        rows, cols = np.nonzero(pool)
        drawn: list[_Event] = []
        for pick in rng.permutation(len(rows)):
            i, k = int(rows[pick]), int(cols[pick])
            if any(abs(k - other) < 3 for other in used.get(i, [])):
                continue
            used.setdefault(i, []).append(k)
            drawn.append(_Event(kind, i, k))
            if len(drawn) == wanted:
                break
        self.events.extend(drawn)
        return drawn

    def of(self, kind: str, month: int | None = None) -> list[_Event]:
        return [e for e in self.events if e.kind == kind and month in (None, e.month)]

    def label(self, kind: str, entity_type: str, entity_key: str, client_id: str, month: str,
              planted: bool, detail: str) -> None:
        self.labels.append({
            "kind": kind, "entity_type": entity_type, "entity_key": entity_key,
            "client_id": client_id, "month": month, "planted": str(planted).lower(),
            "detail": detail,
        })  # fmt: skip

    def write(self, path: Path) -> int:
        """Write every label, ordered by month, kind and entity; returns their number."""
        rows = sorted(self.labels, key=lambda r: (r["month"], r["kind"], r["entity_key"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)


def _plan(seed: int, cal: _Calendar, clients: _Clients, staff: _Staff) -> _Plan:
    """The plan, with its hours spikes and staff hours spikes drawn; the other kinds are
    drawn by the generators that know what they need (`_plant_seats`, `_plant_revenue_drops`,
    `_plant_margin_collapses`)."""
    months = cal.months
    last_event = months - 2  # the last month holds drafts; an event needs a month after it
    steady = np.zeros((clients.n, months), dtype=bool)
    staff_ok = np.zeros((staff.n, months), dtype=bool)
    for k in range(_HISTORY, last_event + 1):
        calm = clients.decline[:, k - 1 : k + 2].max(axis=1) == 0
        steady[:, k] = calm & (clients.first_m <= k - _HISTORY) & (clients.last_m >= k + 1)
        staff_ok[:, k] = (staff.start <= cal.month_start[k - _HISTORY]) & (
            staff.end >= cal.month_end[k + 1]
        ) & (staff.daily_qh > 0)
    plan = _Plan([], steady, {})
    rng = _rng(seed, _S_EVENTS)
    plan.draw("hours_spike", steady, rng, clients.n)
    plan.draw("staff_hours_spike", staff_ok, rng, staff.n, taken={})
    return plan


def _month(cal: _Calendar, k: int) -> str:
    return str(cal.month_start[k])[:10]


def _story_labels(plan: _Plan, cal: _Calendar, clients: _Clients) -> None:
    """Label every churning client's decline months (the story the churn model learns from)."""
    c, m = np.nonzero(clients.decline > 0)
    for i, k in zip(c.tolist(), m.tolist(), strict=True):
        client = str(clients.ids[i])
        plan.label("churn_decline", "client", client, client, _month(cal, k), False,
                   f"{clients.decline[i, k]:.0%} into the decline before the contract ends")


@dataclass
class _PlantedEntries:
    """Time entries a month's planted events add, as the time generator's index arrays."""

    staff: list[np.ndarray] = field(default_factory=list)
    client: list[np.ndarray] = field(default_factory=list)
    day: list[np.ndarray] = field(default_factory=list)  # index into the month's weekdays
    qh: list[np.ndarray] = field(default_factory=list)
    work_type: list[np.ndarray] = field(default_factory=list)
    billable: list[np.ndarray] = field(default_factory=list)
    invoiced: list[np.ndarray] = field(default_factory=list)
    rate: list[np.ndarray] = field(default_factory=list)
    ticket: list[np.ndarray] = field(default_factory=list)

    def add(self, staff: np.ndarray, client: int, day: np.ndarray, qh: np.ndarray,
            work_type: int, billable: bool, invoiced: bool, rate: int,
            ticket: np.ndarray) -> None:
        size = len(qh)
        self.staff.append(staff)
        self.client.append(np.full(size, client, dtype=np.int64))
        self.day.append(day)
        self.qh.append(qh)
        self.work_type.append(np.full(size, work_type, dtype=np.int64))
        self.billable.append(np.full(size, billable))
        self.invoiced.append(np.full(size, invoiced))
        self.rate.append(np.full(size, rate, dtype=np.int64))
        self.ticket.append(ticket)

    def arrays(self) -> tuple[np.ndarray, ...] | None:
        if not self.qh:
            return None
        return tuple(np.concatenate(x) for x in (
            self.staff, self.client, self.day, self.qh, self.work_type, self.billable,
            self.invoiced, self.rate, self.ticket,
        ))  # fmt: skip


def _split_qh(total_qh: int) -> np.ndarray:
    """Quarter-hours split into entries of 4 hours (the last one shorter)."""
    full, rest = divmod(int(total_qh), 16)
    return np.array([16] * full + ([rest] if rest else []), dtype=np.int64)


def _planted_time(
    plan: _Plan, seed: int, k: int, cal: _Calendar, staff: _Staff, clients: _Clients,
    history_client_qh: np.ndarray, history_staff_qh: np.ndarray, next_ticket: int,
    invoiced_p: np.ndarray, project_wt: int, internal_wt: int,
) -> tuple[_PlantedEntries, int]:
    """The planted hours spikes (project tickets) and staff hours spikes (internal time) of
    month ``k``, sized on the history of the 12 months before it."""
    rng = _rng(seed, _S_EVENTS, 1 + k)
    days = cal.weekdays[k]
    workday = ~np.isin(days, cal.holidays)  # nobody works a public holiday, planted or not
    out = _PlantedEntries()
    for event in plan.of("hours_spike", k):
        c = event.index
        past = history_client_qh[c, k - _HISTORY : k] / 4
        hours = max(40.0, 2 * past.mean(), 10 * past.std())
        qh = _split_qh(round(hours * 4))
        pod_staff = np.flatnonzero(staff.pod == clients.pod[c])
        working = (staff.start[pod_staff][None, :] <= days[:, None]) & (
            staff.end[pod_staff][None, :] >= days[:, None]
        )
        day = rng.choice(np.flatnonzero(working.any(axis=1) & workday), size=len(qh))
        who = pod_staff[np.array([rng.choice(np.flatnonzero(working[d])) for d in day])]
        tickets = int(rng.integers(2, 5))
        ticket = next_ticket + rng.integers(0, tickets, size=len(qh))
        used = len(np.unique(ticket))
        next_ticket += tickets
        invoiced = bool(invoiced_p[clients.contract[c], project_wt] >= 0.5)
        out.add(who, c, day, qh, project_wt, True, invoiced,
                int(clients.project_rate_cents[c]), ticket)
        client = str(clients.ids[c])
        plan.label("hours_spike", "client", client, client, _month(cal, k), True,
                   f"{qh.sum() / 4:.2f} h of project work over {used} tickets "
                   f"(usually {past.mean():.1f} h a month)")
    for event in plan.of("staff_hours_spike", k):
        s = event.index
        past = history_staff_qh[s, k - _HISTORY : k] / 4
        hours = max(40.0, 0.5 * past.mean())
        qh = _split_qh(round(hours * 4))
        employed = np.flatnonzero((days >= staff.start[s]) & (days <= staff.end[s]) & workday)
        day = rng.choice(employed, size=len(qh))
        out.add(np.full(len(qh), s, dtype=np.int64), -1, day, qh, internal_wt, False, False,
                0, np.full(len(qh), -1, dtype=np.int64))
        member = str(staff.ids[s])
        plan.label("staff_hours_spike", "staff", member, "", _month(cal, k), True,
                   f"{qh.sum() / 4:.2f} h of internal work on top of the usual "
                   f"{past.mean():.1f} h a month")
    return out, next_ticket


def _plant_seats(
    plan: _Plan, seed: int, cal: _Calendar, clients: _Clients, cp_client: np.ndarray,
    vendor_product: list[tuple[str, str]], normal: np.ndarray, purchased: np.ndarray,
    assigned: np.ndarray, active_seats: np.ndarray,
) -> None:
    """Plant the licence events in place: on a steady client's largest product among its
    plain rows (``normal``: billed seats known and equal to assigned), one month each."""
    rng = _rng(seed, _S_EVENTS, 0)
    owner = np.zeros(clients.n, dtype=bool)
    owner[cp_client[normal]] = True
    for kind in ("unused_seats_jump", "unbilled_seats_jump"):
        for event in plan.draw(kind, plan.steady & owner[:, None], rng, clients.n):
            c, k = event.index, event.month
            mine = np.flatnonzero((cp_client == c) & normal)
            cp = int(mine[np.argmax(purchased[mine, k])])
            if kind == "unused_seats_jump":
                history = slice(k - _HISTORY, k)
                usual = np.median(purchased[cp, history] - active_seats[cp, history])
                extra = max(8, int(np.ceil(0.5 * purchased[cp, k])), int(2 * usual))
                purchased[cp, k] += extra
                detail = f"{extra} more seats bought than last month, none used"
            else:
                extra = max(6, min(25, int(np.ceil(0.4 * assigned[cp, k]))))
                purchased[cp, k] += extra
                assigned[cp, k] += extra
                active_seats[cp, k] += extra
                detail = f"{extra} more users assigned and active, not billed"
            client = str(clients.ids[c])
            vendor, product = vendor_product[cp]
            plan.label(kind, "license", f"{client} / {vendor} / {product}", client,
                       _month(cal, k), True, detail)


def _sliding_history(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per entity and month: the mean of the 12 months before it and their robust standard
    deviation (median absolute deviation x 1.4826, which one odd month cannot inflate)."""
    mean = np.full(values.shape, np.nan)
    spread = np.full(values.shape, np.nan)
    for k in range(_HISTORY, values.shape[1]):
        past = values[:, k - _HISTORY : k]
        mean[:, k] = past.mean(axis=1)
        centre = np.median(past, axis=1, keepdims=True)
        spread[:, k] = 1.4826 * np.median(np.abs(past - centre), axis=1)
    return mean, spread


def _plant_revenue_drops(
    plan: _Plan, seed: int, cal: _Calendar, clients: _Clients, revenue: np.ndarray,
) -> list[_Event]:
    """Draw the revenue drops: a month whose invoice is never sent, where its revenue is at
    least $2,000 and 8 robust standard deviations of the client's monthly revenue over the 12
    months before (unmistakable for that client). ``revenue`` is every invoice line summed
    per client and month, in cents."""
    _, spread = _sliding_history(revenue.astype(float))
    clear = revenue >= 8 * np.nan_to_num(spread, nan=np.inf)
    pool = plan.steady & (revenue >= _MIN_FEE_CENTS) & clear
    drawn = plan.draw("revenue_drop", pool, _rng(seed, _S_EVENTS, 100), clients.n)
    for event in drawn:
        client = str(clients.ids[event.index])
        plan.label("revenue_drop", "client", client, client, _month(cal, event.month), True,
                   f"the month's invoice never sent: "
                   f"{revenue[event.index, event.month] / 100:,.2f} not billed")
    return drawn


def _plant_margin_collapses(
    plan: _Plan, seed: int, cal: _Calendar, clients: _Clients, revenue: np.ndarray,
    other_bills: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the margin collapses: a subcontractor bill of 3-4x the client's mean monthly
    revenue over the 12 months before, with revenue as usual, in a month with no other
    subcontractor bill within a month of it (``other_bills``: client x month). Returns the
    bills' (client, month, cents)."""
    mean, _ = _sliding_history(revenue.astype(float))
    near = other_bills.copy()
    near[:, 1:] |= other_bills[:, :-1]
    near[:, :-1] |= other_bills[:, 1:]
    pool = plan.steady & ~near & (np.nan_to_num(mean) >= _MIN_FEE_CENTS)
    rng = _rng(seed, _S_EVENTS, 200)
    drawn = plan.draw("margin_collapse", pool, rng, clients.n)
    c = np.array([e.index for e in drawn], dtype=np.int64)
    m = np.array([e.month for e in drawn], dtype=np.int64)
    size = rng.uniform(3.0, 4.0, size=len(c))
    bills = (np.round(size * mean[c, m] / 5000) * 5000).astype(np.int64)  # whole $50
    for i, k, cents in zip(c.tolist(), m.tolist(), bills.tolist(), strict=True):
        client = str(clients.ids[i])
        plan.label("margin_collapse", "client", client, client, _month(cal, k), True,
                   f"a subcontractor bill of {cents / 100:,.2f}, revenue as usual")
    return c, m, bills


@dataclass(frozen=True)
class DetectionScore:
    """How well detections of one kind match the labels."""

    kind: str
    planted: int  # planted events of the kind
    found: int  # of them, detected (same entity, month and kind)
    detections: int  # detections of the kind
    explained: int  # of them, explained by a label (EXPLAINS)

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.explained / self.detections if self.detections else 1.0


def read_labels(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def detection_scores(
    labels: list[dict[str, str]], detections: list[tuple[str, str, str, str]],
) -> dict[str, DetectionScore]:
    """Precision and recall per planted kind.

    ``detections`` are (kind, entity_key, client_id, month ISO date). A detection is explained
    when a label of a kind that explains it (:data:`EXPLAINS`) names the same month and either
    the same entity or, for a client's label, the client the detection is about; a planted
    event is found when a detection of its kind names its entity and month.
    """
    explains: set[tuple[str, str, str]] = set()
    for label in labels:
        for kind in EXPLAINS.get(label["kind"], ()):
            explains.add((kind, label["entity_key"], label["month"]))
            if label["entity_type"] == "client":
                explains.add((kind, "client:" + label["client_id"], label["month"]))
    detected = {(kind, key, month) for kind, key, _, month in detections}
    scores = {}
    for kind in PLANTED_KINDS:
        planted = [lb for lb in labels if lb["kind"] == kind and lb["planted"] == "true"]
        mine = [d for d in detections if d[0] == kind]
        explained = sum(
            (kind, key, month) in explains or (kind, "client:" + client, month) in explains
            for _, key, client, month in mine
        )
        found = sum((kind, lb["entity_key"], lb["month"]) in detected for lb in planted)
        scores[kind] = DetectionScore(kind, len(planted), found, len(mine), explained)
    return scores


#: A planted capacity crunch: this share of the team (at least 2), those with the largest
#: client-work capacities, leave mid-way through the second month after the data, so the team
#: forecast runs short the month after (the first whole month without them): about a tenth of
#: the capacity goes, where the demo team keeps about a twentieth spare.
CRUNCH_SHARE = 0.10
CRUNCH_MIN = 2
CRUNCH_DAY = 13  # of the second month after the data (rolled back to a weekday)


def crunch_leaving_date(cal: _Calendar) -> np.datetime64:
    """The planted leavers' last day: on or before the 13th of the second month after."""
    month = (cal.month_start[-1].astype("datetime64[M]") + 2).astype("datetime64[D]")
    return np.busday_offset(month + np.timedelta64(CRUNCH_DAY - 1, "D"), 0, roll="backward")


def _plant_capacity_crunch(
    plan: _Plan, cal: _Calendar, staff: _Staff, end: np.ndarray, capacity: np.ndarray,
) -> np.ndarray:
    """Give a tenth of the team (CRUNCH_SHARE) a known leaving date inside the forecast horizon:
    the full-timers still employed with the largest client-work capacity (``capacity``: daily
    quarter-hours x billable target). Returns the new end dates (``end``: NaT = none)."""
    staying = np.isnat(end) & (staff.start <= cal.month_start[0])
    chosen = np.flatnonzero(staying)[np.argsort(-capacity[staying], kind="stable")]
    chosen = np.sort(chosen[: max(CRUNCH_MIN, round(CRUNCH_SHARE * staff.n))])
    leaving = crunch_leaving_date(cal)
    end = end.copy()
    end[chosen] = leaving
    short = (cal.month_start[-1].astype("datetime64[M]") + 3).astype("datetime64[D]")
    who = ", ".join(str(staff.ids[i]) for i in chosen)
    plan.label("capacity_crunch", "team", "team", "", str(short), True,
               f"{len(chosen)} staff members leave on {leaving}: {who}")
    return end
