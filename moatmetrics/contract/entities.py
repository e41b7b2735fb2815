"""The input data contract (v1) as data: entities, columns, types, aliases, defaults, keys.

Two layers enforce the contract, each with one source of truth:

- this module: what a file must look like to be *read* — the columns, their types (parsed
  strictly in SQL, see ``validation.py``), the MoatMetrics 1.x aliases, defaults and natural
  keys;
- ``expectations/<entity>.json``: the Great Expectations suites with every *rule* on the typed
  values (required values, ranges, allowed values, date order, key uniqueness, warnings), which
  users can read and extend.

The user-facing description is ``docs/data-contract.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["string", "date", "bool", "int", "decimal", "enum", "currency"]

# Text values (names, ids, vendors, products...) are single-line and at most this long: the
# reports, the console and a BI tool's column must be able to show any of them. A longer
# value, or one with a control character, is a rejected row (see validation.py).
TEXT_MAX_CHARS = 200

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

    ``required`` means the file must have the column (or an alias, or a documented way to
    derive it); whether each value is present is a rule of the entity's suite.
    ``default_sql`` is a SQL expression over the other typed columns (or ``$upload_date`` /
    ``$reporting_currency``) used when the value is empty.
    """

    name: str
    type: ColumnType
    required: bool = False
    aliases: tuple[str, ...] = ()
    default_sql: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # SQL expressions over typed columns
    file_aliases: tuple[str, ...] = ()
    # Extra columns the entity's suite can refer to: (name, SQL over typed columns, the
    # file column a problem with it is reported on).
    validation_columns: tuple[tuple[str, str, str], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


CLIENTS = Entity(
    name="clients",
    key=("client_id",),
    columns=(
        Column("client_id", "string", required=True),
        Column("client_name", "string", required=True, aliases=("name",)),
        Column("industry", "string"),
        # 1.x `is_active` (bool) maps to active / inactive: see the loader.
        Column("status", "enum", default_sql="'active'"),
        Column("contract_type", "enum"),
        Column("contract_start", "date"),
        Column("contract_end", "date"),
        Column("monthly_contract_value", "decimal"),
        Column("managed_users", "int"),
        Column("managed_endpoints", "int"),
    ),
)

STAFF = Entity(
    name="staff",
    key=("staff_id",),
    columns=(
        Column("staff_id", "string", required=True),
        Column("staff_name", "string"),
        Column("role", "string"),
        Column("hourly_cost", "decimal", required=True),
        Column("weekly_hours", "decimal", default_sql="40"),
        Column("billable_target", "decimal", default_sql="0.75"),
        Column("start_date", "date"),
        Column("end_date", "date"),
    ),
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
        Column("work_date", "date", required=True, aliases=("date",)),
        Column("hours", "decimal", required=True),
        Column("billable", "bool", default_sql="TRUE"),
        Column("work_type", "enum"),
        Column("ticket_id", "string"),
        Column("bill_rate", "decimal", aliases=("rate",)),
        # Contract v2 (vendor files): the client as the vendor names it, resolved in dbt.
        Column("client_source", "string"),
        Column("client_key", "string"),
        # billable / do_not_bill / no_charge; both non-billable options make billable false.
        Column("billing_option", "enum"),
    ),
)

INVOICES = Entity(
    name="invoices",
    key=("invoice_id", "line_no"),
    file_aliases=("invoice_lines",),
    columns=(
        Column("invoice_id", "string", required=True, aliases=("invoice_number",)),
        # Without a line_no column, lines are numbered in file order within each invoice.
        Column("line_no", "int", default_sql="1"),
        Column("client_id", "string", required=True, aliases=("client_name",)),
        Column("invoice_date", "date", required=True, aliases=("date",)),
        Column("due_date", "date"),
        Column("status", "enum", default_sql="'sent'"),
        Column("category", "enum", default_sql="'other'"),
        Column("sku", "string"),
        Column("quantity", "decimal"),
        Column("unit_price", "decimal"),
        # Required unless quantity and unit_price give it (see the loader).
        Column(
            "amount",
            "decimal",
            required=True,
            aliases=("total_amount",),
            default_sql="round(quantity * unit_price, 2)",
        ),
        Column("currency", "currency", default_sql="$reporting_currency"),
        Column("client_source", "string"),
        Column("client_key", "string"),
        # The accounting account code of a vendor line, for account_map (contract v2).
        Column("account", "string"),
    ),
    validation_columns=(
        # A vendor line names its client by the vendor's key until dbt resolves it.
        ("client_reference", "coalesce(client_id, client_key)", "client_id"),
        (
            "amount_difference",
            "CAST(amount - round(quantity * unit_price, 2) AS DOUBLE)",
            "amount",
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
        Column("seats_purchased", "int", required=True),
        Column("seats_assigned", "int", default_sql="seats_active"),
        Column("seats_active", "int", required=True, aliases=("seats_used",)),
        Column("seats_billed", "int"),
        Column("unit_cost", "decimal", required=True, aliases=("cost_per_seat",)),
        Column("unit_price", "decimal"),
        Column("term_end_date", "date", aliases=("end_date",)),
    ),
    validation_columns=(
        ("vendor_key", "coalesce(vendor, '')", "vendor"),
        ("snapshot_month", "CAST(date_trunc('month', snapshot_date) AS DATE)", "snapshot_date"),
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
        Column("client_source", "string"),
        Column("client_key", "string"),
        # Who billed it (accounting bills): license suppliers are never counted twice.
        Column("supplier", "string"),
    ),
)

# Contract v2: one observed license fact per row (docs/sources.md), from the Microsoft 365,
# Partner Center and PSA files; dbt assembles license rows from them per client and month.
LICENSE_FACT_KINDS = ("purchased", "assigned", "active", "billed")

LICENSE_FACTS = Entity(
    name="license_facts",
    key=(
        "source",
        "client_source",
        "client_key",
        "client_id",
        "product",
        "as_of_date",
        "fact",
        "user_hash",
        "subscription_id",
        "effective_date",
    ),
    columns=(
        Column("source", "string", required=True),
        Column("client_source", "string"),
        Column("client_key", "string"),
        Column("client_id", "string"),
        Column("vendor", "string"),
        Column("product", "string", required=True),
        Column("sku", "string"),
        Column("as_of_date", "date", required=True),
        Column("fact", "enum", required=True),
        Column("user_hash", "string"),
        Column("quantity", "decimal"),
        Column("unit_cost", "decimal"),
        Column("unit_price", "decimal"),
        Column("term_end_date", "date"),
        Column("subscription_id", "string"),
        Column("effective_date", "date"),
        Column("cancelled_date", "date"),
        Column("billing_frequency", "string"),
        Column("deleted", "bool"),
        # The vendor's own name for the client (Partner Center CustomerName), the fallback
        # of client identity when no alias names the client_key.
        Column("client_name", "string"),
    ),
)

# Contract v2: invoice-level status and due date from an accounting invoice list (QuickBooks
# Invoice List), joined by invoice_id onto the lines another file gives; never an amount line.
INVOICE_STATUS = Entity(
    name="invoice_status",
    key=("invoice_id",),
    columns=(
        Column("invoice_id", "string", required=True),
        Column("client_source", "string"),
        Column("client_key", "string"),
        Column("invoice_date", "date"),
        Column("due_date", "date"),
        Column("status", "enum", required=True),
        Column("amount", "decimal"),
        Column("open_balance", "decimal"),
    ),
)

# Contract v2: mapping tables, uploads like any file (versioned, audited). `source` is a
# profile family (connectwise, xero, m365_domain, ...); enum typing makes it lower case.
CLIENT_ALIASES = Entity(
    name="client_aliases",
    # keys match case-insensitively (a vendor's "ACME" and "Acme" are one key)
    key=("source", "lower(source_key)"),
    validation_columns=(("source_key_folded", "lower(source_key)", "source_key"),),
    columns=(
        Column("source", "enum", required=True),
        # the vendor's key: company identifier, contact name, tenant GUID, e-mail domain
        Column("source_key", "string", required=True),
        # `-` = the MSP itself (internal time, overhead costs)
        Column("client_id", "string", required=True),
    ),
)

PRODUCT_MAP = Entity(
    name="product_map",
    # keys match case-insensitively (a vendor's "ACME" and "Acme" are one key)
    key=("source", "lower(source_product)"),
    validation_columns=(("source_product_folded", "lower(source_product)", "source_product"),),
    columns=(
        Column("source", "enum", required=True),
        Column("source_product", "string", required=True),
        Column("vendor", "string"),
        Column("product", "string", required=True),
        Column("category", "string"),
    ),
)

INVOICE_CATEGORIES = ("recurring", "project", "labor", "license", "hardware", "other")

ACCOUNT_MAP = Entity(
    name="account_map",
    # keys match case-insensitively (a vendor's "ACME" and "Acme" are one key)
    key=("source", "lower(account)"),
    validation_columns=(("account_folded", "lower(account)", "account"),),
    columns=(
        Column("source", "enum", required=True),
        # an accounting account code or item name
        Column("account", "string", required=True),
        Column("category", "enum", required=True),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        CLIENTS,
        STAFF,
        TIME_ENTRIES,
        INVOICES,
        LICENSES,
        EXPENSES,
        LICENSE_FACTS,
        INVOICE_STATUS,
        CLIENT_ALIASES,
        PRODUCT_MAP,
        ACCOUNT_MAP,
    )
}

#: The mapping tables (contract v2) and the column that keys each one, with `source`.
MAPPING_KEYS = {
    "client_aliases": "source_key",
    "product_map": "source_product",
    "account_map": "account",
}

# Load order: referenced entities first (so reference checks see the newest clients/staff).
ENTITY_ORDER = (
    "clients",
    "staff",
    "time_entries",
    "invoices",
    "licenses",
    "expenses",
    "license_facts",
    "invoice_status",
    "client_aliases",
    "product_map",
    "account_map",
)


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


def load_order(file_name_stem: str) -> int:
    """Rank of a file in a batch: referenced entities first, unknown names last."""
    entity = entity_for_file_stem(file_name_stem)
    return ENTITY_ORDER.index(entity) if entity else len(ENTITY_ORDER)


def normalize_header(name: str) -> str:
    """Headers match case-insensitively after trimming and turning spaces/hyphens into `_`."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    for char in (" ", "-"):
        cleaned = cleaned.replace(char, "_")
    return cleaned
