"""What an analyst may correct, and the checks a correction passes before it is stored.

A correction (a *row override*) names one input row by its natural key (the key the raw
layer keeps the newest row by, docs/warehouse.md) and either excludes it or sets one of its
columns to a new value. Because the key is the row's own, a correction keeps applying when
the same row is imported again; dbt applies it (``int_<entity>_corrected`` models).

A new value is held to the data contract like a value in a file: its type
(``moatmetrics/contract/entities.py``) and the allowed values and ranges of the entity's suite
(``expectations/<entity>.json``, errors only). A refusal names the entity, column, value and
the fix, as a rejected row does. Values are stored in a canonical text form that both
DuckDB and PostgreSQL cast back (``7.5``, ``true``, ``2025-03-01``, lower-case enumerations).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from moatmetrics.contract.entities import ENTITIES, TEXT_MAX_CHARS, Column
from moatmetrics.contract.validation import FALSE_WORDS, TRUE_WORDS
from moatmetrics.quality.suites import load_suite_document

ACTIONS = ("exclude", "set")


@dataclass(frozen=True)
class Correctable:
    """One entity's correctable rows: its key columns, the columns a correction may set, and
    whether a row may be excluded (facts may; a client or staff member is corrected by its
    attributes, since excluding one would orphan its facts rather than remove them)."""

    entity: str
    key: tuple[str, ...]
    settable: tuple[str, ...]
    excludable: bool = True


CORRECTABLE: dict[str, Correctable] = {
    c.entity: c
    for c in (
        Correctable(
            "time_entries",
            ("entry_id",),
            (
                "staff_id",
                "client_id",
                "work_date",
                "hours",
                "billable",
                "work_type",
                "billing_option",
                "bill_rate",
            ),
        ),  # fmt: skip
        Correctable(
            "invoices",
            ("invoice_id", "line_no"),
            ("client_id", "invoice_date", "due_date", "status", "category", "amount"),
        ),
        Correctable(
            "expenses", ("expense_id",), ("client_id", "expense_date", "amount", "category")
        ),
        Correctable(
            "licenses",
            ("client_id", "vendor", "product", "month"),
            (
                "seats_purchased",
                "seats_assigned",
                "seats_active",
                "seats_billed",
                "unit_cost",
                "unit_price",
            ),
        ),  # fmt: skip
        Correctable(
            "clients",
            ("client_id",),
            (
                "client_name",
                "industry",
                "status",
                "contract_type",
                "contract_start",
                "contract_end",
                "monthly_contract_value",
                "managed_users",
                "managed_endpoints",
            ),
            excludable=False,
        ),  # fmt: skip
        Correctable(
            "staff",
            ("staff_id",),
            (
                "staff_name",
                "role",
                "hourly_cost",
                "weekly_hours",
                "billable_target",
                "start_date",
                "end_date",
            ),
            excludable=False,
        ),  # fmt: skip
    )
}
#: Every key column of any entity: the columns of ``raw.row_overrides`` that name the row.
KEY_COLUMNS = ("entry_id", "invoice_id", "line_no", "expense_id", "client_id", "vendor",
               "product", "month", "staff_id")  # fmt: skip
_KEY_TYPES = {"line_no": "int", "month": "month", "vendor": "optional"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,14}(\.[0-9]{0,4})?|\.[0-9]{1,4})")
_INT = re.compile(r"[+-]?[0-9]{1,18}")


class CorrectionRefused(ValueError):
    """The correction cannot be stored; the message names what and how to fix it."""


@dataclass(frozen=True)
class Correction:
    """A checked correction: key values in key order, the canonical value (None = empty)."""

    entity: str
    key: dict[str, Any]
    action: str
    column: str | None
    value: str | None

    @property
    def row_key(self) -> str:
        """The key as canonical JSON text, e.g. ``{"entry_id":"T001"}``."""
        return row_key_text(self.key)


def row_key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def is_storable(text: str) -> bool:
    """Text both app databases can store: valid Unicode (no lone surrogate) without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _text(entity: str, name: str, raw: object) -> str | None:
    text = "" if raw is None else str(raw).strip()
    if _CONTROL.search(text) or len(text) > TEXT_MAX_CHARS or not is_storable(text):
        raise CorrectionRefused(
            f"{entity} {name}: value {text[:40]!r} is not single-line text of at most"
            f" {TEXT_MAX_CHARS} characters; fix: give a shorter value on one line"
        )
    return text or None


def _key(correctable: Correctable, given: dict[str, Any]) -> dict[str, Any]:
    entity = correctable.entity
    unknown = sorted(set(given) - set(correctable.key))
    missing = [k for k in correctable.key if k not in given]
    if unknown or missing:
        raise CorrectionRefused(
            f"{entity} rows are named by {', '.join(correctable.key)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(repr(u) for u in unknown)}" if unknown else "")
            + f"; fix: give exactly {', '.join(correctable.key)}"
        )
    key: dict[str, Any] = {}
    for name in correctable.key:
        text = _text(entity, name, given[name])
        kind = _KEY_TYPES.get(name, "text")
        if text is None:
            if kind == "optional":
                key[name] = None
                continue
            raise CorrectionRefused(f"{entity} key {name} is empty; fix: give the row's {name}")
        if kind == "int":
            if not _INT.fullmatch(text):
                raise CorrectionRefused(
                    f"{entity} key {name}: value {text!r} is not a whole number; fix: give"
                    " the line number, e.g. 1"
                )
            key[name] = int(text)
        elif kind == "month":
            key[name] = _month(entity, name, text)
        else:
            key[name] = text
    return key


def _month(entity: str, name: str, text: str) -> str:
    try:
        day = date.fromisoformat(text if len(text) > 7 else text + "-01")
    except ValueError:
        raise CorrectionRefused(
            f"{entity} key {name}: value {text!r} is not a month; fix: write it as YYYY-MM"
            " (e.g. 2025-03), the month of the snapshot_date"
        ) from None
    return day.replace(day=1).isoformat()


def _suite_rules(entity: str, column: str) -> tuple[list[str] | None, list[dict[str, Any]]]:
    """Allowed values and ranges (error severity) of `column` in the entity's suite."""
    allowed: list[str] | None = None
    ranges: list[dict[str, Any]] = []
    for spec in load_suite_document(entity).get("expectations", []):
        kwargs = spec.get("kwargs", {})
        if kwargs.get("column") != column or spec.get("meta", {}).get("severity") != "error":
            continue
        if spec["type"] == "expect_column_values_to_be_in_set" and isinstance(
            kwargs.get("value_set"), list
        ):
            allowed = [str(v) for v in kwargs["value_set"]]
        elif spec["type"] == "expect_column_values_to_be_between":
            ranges.append(kwargs)
    return allowed, ranges


def _in_range(value: Decimal, rule: dict[str, Any]) -> bool:
    low, high = rule.get("min_value"), rule.get("max_value")
    if isinstance(low, int | float) and (
        value < Decimal(str(low)) or (rule.get("strict_min") and value == Decimal(str(low)))
    ):
        return False
    return not (
        isinstance(high, int | float)
        and (value > Decimal(str(high)) or (rule.get("strict_max") and value == Decimal(str(high))))
    )


def _range_text(rule: dict[str, Any]) -> str:
    parts = []
    if isinstance(rule.get("min_value"), int | float):
        parts.append(("above " if rule.get("strict_min") else "at least ") + str(rule["min_value"]))
    if isinstance(rule.get("max_value"), int | float):
        parts.append(("below " if rule.get("strict_max") else "at most ") + str(rule["max_value"]))
    return " and ".join(parts)


def _value(entity: str, column: Column, raw: object) -> str | None:
    """The canonical text of a new value, or CorrectionRefused naming column, value and fix."""
    name = column.name
    text = _text(entity, name, raw)
    if text is None:
        if column.required:
            raise CorrectionRefused(
                f"{entity} column {name} cannot be empty (the data contract requires it);"
                f" fix: give a value, or exclude the row instead"
            )
        return None
    shown = f"{entity} column {name}: value {text!r}"
    if column.type in ("decimal", "int"):
        pattern = _DECIMAL if column.type == "decimal" else _INT
        if not pattern.fullmatch(text):
            kind, example = (
                ("a number with at most 4 decimal places", "7.5")
                if column.type == "decimal"
                else ("a whole number", "12")
            )
            raise CorrectionRefused(f"{shown} is not {kind}; fix: write e.g. {example}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CorrectionRefused(f"{shown} is not a number; fix: write e.g. 7.5") from None
        for rule in _suite_rules(entity, name)[1]:
            if not _in_range(number, rule):
                raise CorrectionRefused(
                    f"{shown} is out of range; fix: give a value {_range_text(rule)}"
                )
        return format(number.normalize(), "f")
    if column.type == "bool":
        if text.lower() in TRUE_WORDS:
            return "true"
        if text.lower() in FALSE_WORDS:
            return "false"
        raise CorrectionRefused(f"{shown} is not true or false; fix: write true or false")
    if column.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise CorrectionRefused(
                f"{shown} is not a date; fix: write it as YYYY-MM-DD (e.g. 2025-03-14)"
            ) from None
    if column.type == "enum":
        normalized = text.lower().replace(" ", "_").replace("-", "_")
        allowed = _suite_rules(entity, name)[0]
        if allowed is not None and normalized not in allowed:
            raise CorrectionRefused(f"{shown} is not allowed; fix: use one of {', '.join(allowed)}")
        return normalized
    return text


def check(
    entity: str, key: dict[str, Any], action: str, column: str | None, value: object
) -> Correction:
    """The correction in canonical form, or CorrectionRefused saying what to fix."""
    correctable = CORRECTABLE.get(entity)
    if correctable is None:
        raise CorrectionRefused(
            f"entity {entity!r} cannot be corrected; fix: use one of {', '.join(CORRECTABLE)}"
        )
    if action not in ACTIONS:
        raise CorrectionRefused(f"action {action!r} is unknown; fix: use exclude or set")
    checked_key = _key(correctable, key)
    if action == "exclude":
        if not correctable.excludable:
            raise CorrectionRefused(
                f"{entity} rows cannot be excluded (their facts would lose their"
                f" {correctable.key[0]}, not disappear); fix: set a column instead"
            )
        if column or (value is not None and str(value).strip()):
            raise CorrectionRefused("an exclusion takes no column or value; fix: leave both empty")
        return Correction(entity, checked_key, action, None, None)
    if column not in correctable.settable:
        raise CorrectionRefused(
            f"{entity} column {column!r} cannot be set; fix: use one of"
            f" {', '.join(correctable.settable)}"
        )
    contract_column = next(c for c in ENTITIES[entity].columns if c.name == column)
    return Correction(entity, checked_key, action, column, _value(entity, contract_column, value))
