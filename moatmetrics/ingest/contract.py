"""The input data contract (v1) as data: entities, columns, types, aliases, defaults, rules.

This is the single source of truth that the readers, the SQL validation, the docs and the
quality suites are built from. It mirrors ``docs/data-contract.md`` (the user-facing text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "date", "bool", "int", "decimal", "enum", "currency"]

SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "enum": "VARCHAR",
    "currency": "VARCHAR",
    "date": "DATE",
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "decimal": "DECIMAL(18,4)",
}


@dataclass(frozen=True)
class Column:
    """One contract column.

    ``default_sql`` is a SQL expression over the other typed columns (or ``$upload_date`` /
    ``$reporting_currency``) used when the value is empty. ``checks`` are extra row rules: a SQL
    condition over typed columns that is TRUE when the row breaks the rule, the rule text and
    the fix hint.
    """

    name: str
    type: ColumnType
    required: bool = False
    aliases: tuple[str, ...] = ()
    default_sql: str | None = None
    values: tuple[str, ...] = ()
    min_value: str | None = None
    min_exclusive: bool = False
    max_value: str | None = None
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class Check:
    """A row rule: ``condition`` is SQL over typed columns, TRUE when the row breaks it.

    ``column`` is the column reported (defaults to the column the check is attached to).
    """

    condition: str
    rule: str
    fix: str
    severity: Literal["error", "warning"] = "error"
    column: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # SQL expressions over typed columns
    file_aliases: tuple[str, ...] = ()
    # Extra row rules across columns (evaluated on typed values).
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _later_or_equal(end: str, start: str, fix: str) -> Check:
    return Check(condition=f"{end} < {start}", rule=f"{end} is before {start}", fix=fix, column=end)


CLIENTS = Entity(
    name="clients",
    key=("client_id",),
    columns=(
        Column("client_id", "string", required=True),
        Column("client_name", "string", required=True, aliases=("name",)),
        Column("industry", "string"),
        Column(
            "status",
            "enum",
            values=("active", "inactive", "churned"),
            default_sql="'active'",
        ),
        Column("contract_type", "enum", values=("managed", "project", "break_fix", "other")),
        Column("contract_start", "date"),
        Column("contract_end", "date"),
        Column("monthly_contract_value", "decimal", min_value="0"),
        Column("managed_users", "int", min_value="0"),
        Column("managed_endpoints", "int", min_value="0"),
    ),
    checks=(
        _later_or_equal(
            "contract_end", "contract_start", "correct the contract dates or leave one empty"
        ),
    ),
)

STAFF = Entity(
    name="staff",
    key=("staff_id",),
    columns=(
        Column("staff_id", "string", required=True),
        Column("staff_name", "string"),
        Column("role", "string"),
        Column("hourly_cost", "decimal", required=True, min_value="0"),
        Column(
            "weekly_hours",
            "decimal",
            default_sql="40",
            min_value="0",
            min_exclusive=True,
            max_value="80",
        ),
        Column("billable_target", "decimal", default_sql="0.75", min_value="0", max_value="1"),
        Column("start_date", "date"),
        Column("end_date", "date"),
    ),
    checks=(_later_or_equal("end_date", "start_date", "correct the dates or leave one empty"),),
)

ABSENCE_WORK_TYPES = ("pto", "holiday")

TIME_ENTRIES = Entity(
    name="time_entries",
    key=("entry_id",),
    file_aliases=("time_logs",),
    columns=(
        # Without entry_id (1.x files) the id is derived from the row's content and its
        # occurrence number, so importing the same file twice never doubles hours.
        Column("entry_id", "string", required=True),
        Column("staff_id", "string", required=True, aliases=("staff_name",)),
        Column("client_id", "string", aliases=("client_name",)),
        Column(
            "work_date",
            "date",
            required=True,
            aliases=("date",),
            checks=(
                Check(
                    condition="work_date > $upload_date",
                    rule="work date is after the upload date",
                    fix="check the date; future time is usually a typo",
                    severity="warning",
                ),
            ),
        ),
        Column(
            "hours",
            "decimal",
            required=True,
            min_value="0",
            min_exclusive=True,
            max_value="24",
            checks=(
                Check(
                    condition="hours > 12",
                    rule="more than 12 hours on one entry",
                    fix="minutes exported as hours? check the export settings",
                    severity="warning",
                ),
            ),
        ),
        Column("billable", "bool", default_sql="TRUE"),
        Column("work_type", "enum"),
        Column("ticket_id", "string"),
        Column("bill_rate", "decimal", aliases=("rate",), min_value="0"),
    ),
)

INVOICE_STATUSES = ("draft", "sent", "pending", "paid", "overdue", "void")
INVOICE_CATEGORIES = ("recurring", "project", "labor", "license", "hardware", "other")

INVOICES = Entity(
    name="invoices",
    key=("invoice_id", "line_no"),
    file_aliases=("invoice_lines",),
    columns=(
        Column("invoice_id", "string", required=True, aliases=("invoice_number",)),
        # Without a line_no column, lines are numbered in file order within each invoice.
        Column("line_no", "int", default_sql="1", min_value="1"),
        Column("client_id", "string", required=True, aliases=("client_name",)),
        Column("invoice_date", "date", required=True, aliases=("date",)),
        Column("due_date", "date"),
        Column("status", "enum", values=INVOICE_STATUSES, default_sql="'sent'"),
        Column("category", "enum", values=INVOICE_CATEGORIES, default_sql="'other'"),
        Column("sku", "string"),
        Column("quantity", "decimal"),
        Column("unit_price", "decimal"),
        # Required unless quantity and unit_price give it (see loader).
        Column(
            "amount",
            "decimal",
            required=True,
            aliases=("total_amount",),
            default_sql="round(quantity * unit_price, 2)",
        ),
        Column("currency", "currency", default_sql="$reporting_currency"),
    ),
    checks=(
        _later_or_equal(
            "due_date", "invoice_date", "the due date must not be before the invoice date"
        ),
        Check(
            condition="quantity IS NOT NULL AND unit_price IS NOT NULL"
            " AND abs(amount - round(quantity * unit_price, 2)) >= 0.01",
            rule="amount differs from quantity x unit_price",
            column="amount",
            fix="check the line: discounts belong on a separate line",
            severity="warning",
        ),
    ),
)

LICENSES = Entity(
    name="licenses",
    key=("client_id", "coalesce(vendor, '')", "product", "date_trunc('month', snapshot_date)"),
    columns=(
        Column("client_id", "string", required=True, aliases=("client_name",)),
        Column("vendor", "string"),
        Column("product", "string", required=True),
        Column("sku", "string"),
        Column("snapshot_date", "date", default_sql="$upload_date"),
        Column("seats_purchased", "int", required=True, min_value="0"),
        Column("seats_assigned", "int", default_sql="seats_active", min_value="0"),
        Column("seats_active", "int", required=True, aliases=("seats_used",), min_value="0"),
        Column("seats_billed", "int", min_value="0"),
        Column("unit_cost", "decimal", required=True, aliases=("cost_per_seat",), min_value="0"),
        Column("unit_price", "decimal", min_value="0"),
        Column("term_end_date", "date", aliases=("end_date",)),
    ),
    checks=(
        Check(
            condition="seats_active > seats_assigned",
            rule="more active seats than assigned seats",
            column="seats_active",
            fix="check the seat counts of this snapshot",
            severity="warning",
        ),
    ),
)

EXPENSES = Entity(
    name="expenses",
    key=("expense_id",),
    columns=(
        Column("expense_id", "string", required=True),
        Column("client_id", "string"),
        Column("expense_date", "date", required=True),
        Column("amount", "decimal", required=True),
        Column("category", "string"),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e for e in (CLIENTS, STAFF, TIME_ENTRIES, INVOICES, LICENSES, EXPENSES)
}

# Load order: referenced entities first (so reference warnings see the newest clients/staff).
ENTITY_ORDER = ("clients", "staff", "time_entries", "invoices", "licenses", "expenses")


def entity_for_file_stem(stem: str) -> str | None:
    """The entity a file name stem names, e.g. ``time_logs_2025-10`` -> ``time_entries``.

    The stem must equal an entity name or alias, or start with one followed by a non-letter.
    Longest names are tried first so that ``invoice_lines`` wins over a shorter match.
    """
    normalized = normalize_header(stem)
    names: list[tuple[str, str]] = []
    for entity in ENTITIES.values():
        names.append((entity.name, entity.name))
        names.extend((alias, entity.name) for alias in entity.file_aliases)
    for candidate, entity_name in sorted(names, key=lambda n: -len(n[0])):
        if normalized == candidate:
            return entity_name
        if normalized.startswith(candidate) and not normalized[len(candidate)].isalpha():
            return entity_name
    return None


def normalize_header(name: str) -> str:
    """Headers match case-insensitively after trimming and turning spaces/hyphens into `_`."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    for char in (" ", "-"):
        cleaned = cleaned.replace(char, "_")
    return cleaned
