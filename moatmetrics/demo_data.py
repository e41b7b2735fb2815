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
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import ArrayLike

__all__ = [
    "COLUMNS",
    "DEFAULT_END_MONTH",
    "INJECTED_DEFECTS",
    "MONTHS",
    "SCALES",
    "InjectedDefect",
    "ScaleSpec",
    "generate",
]

# --------------------------------------------------------------------------------------------
# Public constants
# --------------------------------------------------------------------------------------------

#: Canonical columns of each file, in the order of ``docs/warehouse.md``.
COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": (
        "client_id", "client_name", "industry", "status", "contract_type", "contract_start",
        "contract_end", "monthly_contract_value", "managed_users", "managed_endpoints",
    ),
    "staff": (
        "staff_id", "staff_name", "role", "hourly_cost", "weekly_hours", "billable_target",
        "start_date", "end_date",
    ),
    "time_entries": (
        "entry_id", "staff_id", "client_id", "work_date", "hours", "billable", "work_type",
        "ticket_id", "bill_rate",
    ),
    "invoices": (
        "invoice_id", "line_no", "client_id", "invoice_date", "due_date", "status", "category",
        "sku", "quantity", "unit_price", "amount", "currency",
    ),
    "licenses": (
        "client_id", "vendor", "product", "sku", "snapshot_date", "seats_purchased",
        "seats_assigned", "seats_active", "seats_billed", "unit_cost", "unit_price",
        "term_end_date",
    ),
    "expenses": ("expense_id", "client_id", "expense_date", "amount", "category"),
}

#: Months of history in every scale.
MONTHS = 24

#: Last month of data when the caller gives none. Fixed so output never depends on today.
DEFAULT_END_MONTH = date(2026, 9, 1)

#: Reporting currency of the demo MSP.
CURRENCY = "USD"

#: Days between an invoice and its due date.
PAYMENT_TERMS_DAYS = 30

#: Churned clients: at least this many (so even ``small`` can train a churn model), else
#: this share of the book.
CHURNED_MIN = 12
CHURNED_SHARE = 0.08
#: Months of visible decline before a churned client's last month (inclusive), drawn per client.
CHURN_DECLINE_MONTHS = (4, 6)
#: At full decline: extra technician demand, share of proactive work turned reactive, share of
#: seats and managed users given up, and probability that an invoice stays unpaid.
DECLINE_EXTRA_DEMAND = 1.5
DECLINE_REACTIVE_SHIFT = 0.6
DECLINE_SEAT_LOSS = 0.35
DECLINE_UNPAID_P = 0.9


@dataclass(frozen=True)
class ScaleSpec:
    """Size of a generated MSP."""

    clients: int
    staff: int
    #: Mean time entries a tier-2 technician logs on a full working day; other roles scale it.
    entries_per_day: float


SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(clients=40, staff=15, entries_per_day=4.2),
    "1m": ScaleSpec(clients=1_500, staff=400, entries_per_day=5.75),
    "10m": ScaleSpec(clients=15_000, staff=4_000, entries_per_day=5.75),
}


@dataclass(frozen=True)
class InjectedDefect:
    """One deliberate, row-level defect: where it is and what the quality gate should say."""

    file: str
    column: str
    rows: int
    month_index: tuple[int, ...]
    value: str
    expected: str


HOURS_SPIKE_MONTHS = (3, 8, 13, 17, 21)
HOURS_SPIKE_VALUES = (15, 20, 18, 22, 16)
UNKNOWN_STAFF_MONTH = 10
UNKNOWN_STAFF_ID = "S9999"
UNKNOWN_CLIENT_MONTH = 15
UNKNOWN_CLIENT_ID = "C99999"
FOREIGN_CURRENCY_MONTH = 6
FOREIGN_CURRENCY = "EUR"
AMOUNT_MISMATCH_MONTH = 12
AMOUNT_MISMATCH_CENTS = 10_000

INJECTED_DEFECTS: tuple[InjectedDefect, ...] = (
    InjectedDefect(
        "time_entries.csv", "hours", len(HOURS_SPIKE_VALUES), HOURS_SPIKE_MONTHS,
        "/".join(str(v) for v in HOURS_SPIKE_VALUES),
        "warning: more than 12 hours in one entry (minutes exported as hours?)",
    ),
    InjectedDefect(
        "time_entries.csv", "staff_id", 1, (UNKNOWN_STAFF_MONTH,), UNKNOWN_STAFF_ID,
        "staff_id not in staff.csv",
    ),
    InjectedDefect(
        "time_entries.csv", "client_id", 1, (UNKNOWN_CLIENT_MONTH,), UNKNOWN_CLIENT_ID,
        "client_id not in clients.csv",
    ),
    InjectedDefect(
        "invoices.csv", "currency", 1, (FOREIGN_CURRENCY_MONTH,), FOREIGN_CURRENCY,
        "error: currency other than the reporting currency, row rejected",
    ),
    InjectedDefect(
        "invoices.csv", "amount", 1, (AMOUNT_MISMATCH_MONTH,), "+100.00",
        "amount differs from quantity x unit_price",
    ),
)

# --------------------------------------------------------------------------------------------
# Domain tables (the "why" of the numbers lives next to them)
# --------------------------------------------------------------------------------------------

# Random streams: one per component, so adding draws to one never shifts another.
_S_CLIENTS, _S_STAFF, _S_TIME, _S_INVOICES, _S_LICENSES, _S_EXPENSES, _S_DEFECTS = range(7)

INDUSTRIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "healthcare": (0.16, (
        "Family Dental", "Pediatrics", "Medical Group", "Physical Therapy", "Orthodontics",
        "Eye Care", "Dermatology", "Chiropractic", "Veterinary Clinic", "Urgent Care",
    )),
    "legal": (0.12, (
        "Law Group", "Legal", "Law Offices", "Attorneys", "Legal Services", "Law Partners",
        "Trial Lawyers", "Estate Law", "Immigration Law", "Family Law",
    )),
    "accounting": (0.12, (
        "CPAs", "Accounting", "Tax Advisors", "Bookkeeping", "Financial Group",
        "Wealth Advisors", "Payroll Services", "Audit Partners", "Tax Services", "Advisors",
    )),
    "manufacturing": (0.14, (
        "Manufacturing", "Metalworks", "Plastics", "Fabrication", "Machine Works",
        "Industries", "Precision Parts", "Packaging", "Tool and Die", "Components",
    )),
    "nonprofit": (0.09, (
        "Community Foundation", "Food Bank", "Youth Services", "Arts Council",
        "Animal Rescue", "Housing Alliance", "Literacy Project", "Land Trust",
        "Family Services", "Senior Center",
    )),
    "construction": (0.11, (
        "Builders", "Construction", "Contractors", "Roofing", "Electric", "Plumbing",
        "Homes", "Excavating", "Concrete", "Restoration",
    )),
    "retail": (0.10, (
        "Hardware", "Outfitters", "Furniture", "Boutique", "Garden Center", "Bike Shop",
        "Pharmacy", "Books", "Appliance", "Market",
    )),
    "financial_services": (0.08, (
        "Credit Union", "Insurance Agency", "Mortgage", "Capital", "Investments",
        "Title Company", "Lending", "Financial Planning", "Trust Company", "Brokerage",
    )),
    "education": (0.08, (
        "Academy", "Montessori", "Learning Center", "Prep School", "Charter School",
        "Tutoring", "Day School", "Training Institute", "Early Learning", "Music School",
    )),
}

PLACES = (
    "Harbor", "Summit", "Cedar", "Riverside", "Oakwood", "Lakeview", "Pinecrest", "Maple",
    "Granite", "Willow", "Northside", "Eastgate", "Westfield", "Southport", "Bayshore",
    "Hillcrest", "Meadow", "Stonebridge", "Clearwater", "Fairview", "Brookside", "Redwood",
    "Silver Creek", "Ironwood", "Highland", "Valley", "Prairie", "Canyon", "Coastal",
    "Evergreen", "Sunrise", "Bluewater", "Copper", "Aspen", "Birch", "Cypress", "Elm",
    "Falcon", "Golden", "Heritage", "Juniper", "Keystone", "Liberty", "Magnolia", "Mission",
    "Oak Hill", "Pioneer", "Quarry", "Ridgeline", "Sage", "Timber", "Union", "Vista",
    "Westwood", "Yarrow", "Anchor", "Beacon", "Crescent", "Driftwood", "Ember", "Foxglove",
    "Glacier", "Hawthorne", "Indigo", "Jasper", "Kingsley", "Lighthouse", "Millbrook",
    "Northwind", "Orchard", "Parkside", "Quail Run", "Rosewood", "Sequoia", "Tidewater",
    "Upland", "Vineyard", "Whitestone", "Alder", "Bristol", "Chestnut", "Dover", "Easton",
    "Fulton", "Greenfield", "Hampton", "Irving", "Jefferson", "Kent", "Lincoln", "Madison",
    "Newport", "Oxford", "Preston", "Quincy", "Richmond", "Salem", "Trenton", "Warren",
    "Ashford",
)
NAME_SUFFIXES = ("", " LLC", " Inc", " Co")

FIRST_NAMES = (
    "Alex", "Maria", "James", "Priya", "Daniel", "Sofia", "Michael", "Aisha", "David", "Elena",
    "Chris", "Fatima", "Kevin", "Hannah", "Jose", "Grace", "Ryan", "Mei", "Brandon", "Olivia",
    "Tyler", "Nadia", "Marcus", "Emily", "Luis", "Chloe", "Andre", "Sarah", "Ethan", "Leah",
    "Omar", "Rachel", "Nathan", "Julia", "Samuel", "Zoe", "Victor", "Laura", "Isaac", "Megan",
    "Derek", "Anna", "Jordan", "Rosa", "Kyle", "Tessa", "Brian", "Lina", "Sean", "Carmen",
    "Aaron", "Naomi", "Evan", "Irene", "Colin", "Yuki", "Trevor", "Keisha", "Mason", "Ivy",
)
LAST_NAMES = (
    "Nguyen", "Garcia", "Smith", "Patel", "Johnson", "Kim", "Brown", "Lopez", "Miller",
    "Chen", "Davis", "Martinez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
)

CONTRACT_TYPES = ("managed", "break_fix", "project", "other")
_MANAGED, _BREAK_FIX, _PROJECT, _OTHER = range(4)
CONTRACT_WEIGHTS = (0.62, 0.16, 0.10, 0.12)

# Roles: display name, share of headcount, loaded hourly cost range, billable target,
# share of worked time that is internal, entries per day relative to a tier-2 technician.
ROLES: tuple[tuple[str, float, tuple[float, float], float, float, float], ...] = (
    ("Helpdesk Technician", 0.15, (35.0, 45.0), 0.80, 0.10, 1.6),
    ("Technician I", 0.20, (40.0, 50.0), 0.78, 0.14, 1.25),
    ("Technician II", 0.25, (50.0, 62.0), 0.75, 0.16, 1.0),
    ("Technician III", 0.18, (60.0, 75.0), 0.72, 0.18, 0.85),
    ("Systems Engineer", 0.14, (70.0, 85.0), 0.70, 0.18, 0.55),
    ("vCIO", 0.08, (85.0, 95.0), 0.50, 0.35, 0.45),
)
_HELPDESK, _TECH1, _TECH2, _TECH3, _ENGINEER, _VCIO = range(6)
# The small scale is hand-picked so every role, and the mix above, is present.
SMALL_ROLE_COUNTS = (2, 3, 4, 3, 2, 1)

WORK_TYPES = (
    "remote_support", "onsite", "maintenance", "project", "consulting", "internal",
    "training", "pto", "holiday",
)
_REMOTE, _ONSITE, _MAINT, _PROJ, _CONSULT, _INTERNAL, _TRAINING, _PTO, _HOLIDAY = range(9)
# P(work type | role) for client work, over remote, onsite, maintenance, project, consulting.
ROLE_WORK_MIX = np.array([
    [0.88, 0.02, 0.10, 0.00, 0.00],
    [0.70, 0.14, 0.16, 0.00, 0.00],
    [0.58, 0.18, 0.14, 0.10, 0.00],
    [0.45, 0.16, 0.14, 0.25, 0.00],
    [0.20, 0.12, 0.13, 0.55, 0.00],
    [0.00, 0.05, 0.00, 0.15, 0.80],
])
# ``billable`` means chargeable client time, as PSA tools record it: work covered by a managed
# agreement is billable (it counts toward utilisation) but is paid by the flat fee, not by the
# hour. A few client hours are "no charge" (rework, goodwill) and not billable at all.
NO_CHARGE_P = np.array([0.07, 0.05, 0.04, 0.03, 0.02])
# P(invoiced by the hour | billable, contract type, work type): only these hours carry a
# ``bill_rate`` and appear on labour or project invoice lines.
INVOICED_P = np.array([
    [0.02, 0.30, 0.00, 0.95, 0.00],
    [1.00, 1.00, 1.00, 1.00, 1.00],
    [1.00, 1.00, 1.00, 1.00, 1.00],
    [0.85, 0.90, 0.10, 0.95, 0.50],
])
# Per calendar month (index 0 = January): PTO probability per weekday and how much of the
# contracted day people log (the December dip).
PTO_P = np.array([0.02, 0.02, 0.025, 0.03, 0.03, 0.05, 0.08, 0.08, 0.03, 0.025, 0.03, 0.06])
DAY_FACTOR = np.array([1.02, 1.0, 1.0, 1.0, 1.0, 0.99, 0.97, 0.97, 1.0, 1.01, 0.98, 0.90])
CHRISTMAS_WEEK_PTO_P = 0.30


@dataclass(frozen=True)
class Product:
    """One licence product the MSP resells; amounts in cents."""

    vendor: str
    product: str
    sku: str
    unit_cost: int
    prices: tuple[int, ...]
    basis: str  # users, endpoints or mailboxes
    term_known: bool


PRODUCTS: tuple[Product, ...] = (
    Product("Microsoft", "Microsoft 365 Business Premium", "MS-M365-BP", 1980,
            (2200, 2420, 2640), "users", True),
    Product("Microsoft", "Microsoft 365 Business Standard", "MS-M365-BS", 1125,
            (1250, 1375, 1500), "users", True),
    Product("Microsoft", "Exchange Online (Plan 1)", "MS-EXO-P1", 360,
            (400, 450, 500), "mailboxes", True),
    Product("Microsoft", "Microsoft Defender for Office 365 (Plan 1)", "MS-MDO-P1", 180,
            (200, 250, 300), "users", True),
    Product("Acronis", "Acronis Cyber Protect Cloud Backup", "ACR-CPC-BKP", 450,
            (800, 900, 1000), "endpoints", True),
    Product("SentinelOne", "SentinelOne Singularity Complete", "S1-SING-CMPL", 550,
            (800, 900, 1000), "endpoints", True),
    Product("Huntress", "Huntress Managed EDR", "HUN-MEDR", 300,
            (500, 550, 600), "endpoints", True),
    Product("Datto", "Datto SaaS Protection", "DAT-SAAS-M365", 240,
            (400, 450, 500), "users", True),
    Product("KnowBe4", "KnowBe4 Security Awareness Training", "KB4-SAT-GOLD", 150,
            (300, 350, 400), "users", False),
)
_BP, _BS, _EXO, _MDO, _ACRONIS, _S1, _HUNTRESS, _DATTO, _KB4 = range(len(PRODUCTS))
# P(client has product | contract type) over managed, break_fix, project, other. Business
# Premium vs Standard and SentinelOne vs Huntress are drawn as exclusive pairs.
PRODUCT_P: dict[int, tuple[float, float, float, float]] = {
    _BP: (0.60, 0.25, 0.25, 0.30),
    _BS: (0.30, 0.25, 0.15, 0.20),
    _EXO: (0.20, 0.10, 0.05, 0.10),
    _MDO: (0.15, 0.00, 0.00, 0.05),
    _ACRONIS: (0.80, 0.20, 0.20, 0.90),
    _S1: (0.45, 0.05, 0.00, 0.15),
    _HUNTRESS: (0.40, 0.05, 0.00, 0.15),
    _DATTO: (0.40, 0.05, 0.05, 0.30),
    _KB4: (0.30, 0.00, 0.00, 0.05),
}

HARDWARE: tuple[tuple[str, int], ...] = (
    ("HW-LAPTOP", 129900), ("HW-DESKTOP", 89900), ("HW-FIREWALL", 145000),
    ("HW-SWITCH", 64900), ("HW-DOCK", 22900), ("HW-MONITOR", 27900),
)

# Invoice categories and the skus of lines that are not licences or hardware.
_CAT_RECURRING, _CAT_PROJECT, _CAT_LABOR, _CAT_LICENSE, _CAT_HARDWARE, _CAT_OTHER = range(6)
CATEGORIES = ("recurring", "project", "labor", "license", "hardware", "other")
FIXED_SKUS = ("MSP-MANAGED-USER", "MSP-CARE-PLAN", "LABOR-SUPPORT", "LABOR-PROJECT",
              "CREDIT-SLA", "CREDIT-GOODWILL")

# Overhead per staff member and month (cents): why the MSP's total margin is lower than the
# sum of client margins.
OVERHEAD: tuple[tuple[str, int, float], ...] = (
    ("rent", 42_000, 0.0), ("software", 9_500, 0.03), ("insurance", 4_500, 0.0),
    ("utilities", 6_000, 0.12), ("marketing", 3_000, 0.5), ("training", 2_500, 0.8),
    ("vehicles", 4_000, 0.15),
)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: int, part: int = 0) -> np.random.Generator:
    """A generator private to one component (and month), independent of the others."""
    return np.random.default_rng([seed, stream, part])


def _dec(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Exact decimal(18,2) from integer cents, so CSV shows ``125.50`` and never float noise."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(2 * len(cents), dtype=np.int64)
    words[0::2] = cents
    words[1::2] = np.where(cents < 0, -1, 0)
    bitmap = None
    nulls = 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little").tobytes())
        nulls = int((~valid).sum())
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(cents), [bitmap, pa.py_buffer(words.tobytes())], nulls
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, built in Arrow (no Python string per row)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """Look up strings by index; a negative index becomes null (an empty CSV cell)."""
    return values.take(pa.array(index, pa.int64(), mask=index < 0))


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 from datetime64[D]; invalid or NaT entries become null."""
    days = days.astype("datetime64[D]")
    mask = np.isnat(days) if valid is None else (~valid | np.isnat(days))
    return pa.array(days, pa.date32(), mask=mask)


def _round_to(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(x / step) * step


def _cents(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x) * 100).astype(np.int64)


def _observed(day: date) -> date:
    """US federal rule: a Saturday holiday is taken on Friday, a Sunday one on Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th (1-based; -1 = last) given weekday of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _public_holidays(years: range) -> np.ndarray:
    """The holidays a US MSP closes for: everybody logs a ``holiday`` entry on them."""
    days: list[date] = []
    for y in years:
        days += [
            _observed(date(y, 1, 1)),
            _nth_weekday(y, 5, 0, -1),  # Memorial Day
            _observed(date(y, 7, 4)),
            _nth_weekday(y, 9, 0, 1),  # Labor Day
            _nth_weekday(y, 11, 3, 4),  # Thanksgiving
            _nth_weekday(y, 11, 3, 4) + timedelta(days=1),
            _observed(date(y, 12, 25)),
        ]
    return np.array(sorted(days), dtype="datetime64[D]")


class _CsvFile:
    """Appends Arrow tables to one CSV file with a plain (unquoted) canonical header."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.rows = 0
        self._fh: BinaryIO = path.open("wb")
        self._fh.write((",".join(columns) + "\n").encode())
        self._writer: pacsv.CSVWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, data: dict[str, pa.Array]) -> None:
        table = pa.table({c: data[c] for c in self.columns})
        if self._writer is None:
            # Never quote: generated strings hold no comma, quote or newline, and unquoted
            # cells are what spreadsheet exports of the real systems look like.
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            self._schema = table.schema
            self._writer = pacsv.CSVWriter(self._fh, table.schema, write_options=options)
        self._writer.write_table(table.cast(self._schema))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._fh.close()


def _write(path: Path, columns: tuple[str, ...], data: dict[str, pa.Array]) -> int:
    out = _CsvFile(path, columns)
    try:
        out.write(data)
    finally:
        out.close()
    return out.rows


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Time entries (one month at a time)
# --------------------------------------------------------------------------------------------


@dataclass
class _Labour:
    """Per client and month: what invoices and expenses need from the time entries."""

    support_qh: np.ndarray  # quarter-hours invoiced by the hour, not project
    project_qh: np.ndarray  # project quarter-hours invoiced by the hour
    onsite_visits: np.ndarray  # client-days with an onsite entry


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
    next_entry: int, next_ticket: int, labour: _Labour,
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


# --------------------------------------------------------------------------------------------
# Licenses
# --------------------------------------------------------------------------------------------


@dataclass
class _Seats:
    """Licence seats per client-product and month, for the licence lines of invoices."""

    client: np.ndarray  # per client-product
    product: np.ndarray
    price_cents: np.ndarray
    assigned: np.ndarray  # (client-product, month)
    billed: np.ndarray  # -1 = unknown


def _licenses(
    seed: int, cal: _Calendar, clients: _Clients, active: np.ndarray,
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


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


def _invoices(
    seed: int, cal: _Calendar, clients: _Clients, active: np.ndarray, seats: _Seats,
    labour: _Labour,
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    """Invoice lines; also returns the hardware resold, which expenses must have bought."""
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
    return columns, hardware


# --------------------------------------------------------------------------------------------
# Expenses
# --------------------------------------------------------------------------------------------


def _expenses(
    seed: int, cal: _Calendar, clients: _Clients, staff: _Staff, active: np.ndarray,
    labour: _Labour, hardware: dict[str, np.ndarray],
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
    add(c, m, base + 2, _cents(_round_to(rng.uniform(800, 5000, size=len(c)), 50)))
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


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _latest_date(end_month: date) -> date:
    """The last date the output contains: the due date of the last month's invoices."""
    last_day = date(end_month.year, end_month.month,
                    calendar.monthrange(end_month.year, end_month.month)[1])
    while last_day.weekday() >= 5:
        last_day -= timedelta(days=1)
    return last_day + timedelta(days=PAYMENT_TERMS_DAYS)


def generate(
    out_dir: Path, seed: int = 42, scale: str = "small", end_month: date | None = None,
) -> dict[str, int]:
    """Write the six demo CSV files into ``out_dir`` and return the data rows of each file.

    ``end_month`` is the last month of the 24 months of history (any day in it will do). It
    must leave every generated date (the last invoices' due dates) on or before today, because
    future dates are themselves a data-quality finding the demo must not trigger by accident.
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
    counts = {
        "clients.csv": _write(out_dir / "clients.csv", COLUMNS["clients"], client_cols),
        "staff.csv": _write(out_dir / "staff.csv", COLUMNS["staff"], staff_cols),
    }

    seats, license_cols = _licenses(seed, cal, clients, active)
    counts["licenses.csv"] = _write(out_dir / "licenses.csv", COLUMNS["licenses"], license_cols)
    del license_cols

    shape = (clients.n, cal.months)
    labour = _Labour(np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64))
    out = _CsvFile(out_dir / "time_entries.csv", COLUMNS["time_entries"])
    try:
        next_entry, next_ticket = 1, 1_000_001
        for k in range(cal.months):
            cols, next_ticket = _time_month(seed, k, cal, staff, clients, active, next_entry,
                                            next_ticket, labour)
            out.write(cols)
            next_entry = out.rows + 1
    finally:
        out.close()
    counts["time_entries.csv"] = out.rows

    invoice_cols, hardware = _invoices(seed, cal, clients, active, seats, labour)
    counts["invoices.csv"] = _write(out_dir / "invoices.csv", COLUMNS["invoices"], invoice_cols)
    expense_cols = _expenses(seed, cal, clients, staff, active, labour, hardware)
    counts["expenses.csv"] = _write(out_dir / "expenses.csv", COLUMNS["expenses"], expense_cols)
    return {name: counts[name] for name in (f"{e}.csv" for e in COLUMNS)}
