"""The demo's public knobs: scales, file columns, the churn story and the injected defects.

Kept apart from the generators so tests and benchmarks can read what the data promises
(which months hold a defect, how many clients churn) without importing numpy code paths."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
