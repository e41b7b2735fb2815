"""Typed parsing and row rules of the data contract, as set-based SQL.

From a text table (see readers) we build whatever the file holds:

1. ``<t>_parsed``: per contract column the trimmed text (``<col>__raw``) and the strictly
   typed value (NULL when the text does not parse; nothing is guessed or stripped);
2. ``<t>_typed``: contract defaults applied, derived ids filled in;
3. the parsing problems (values that are not of their type) and exact repeated rows.

The rules on typed values live in the expectation suites (``moatmetrics/quality``). Every
statement here runs over whole columns; there is no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from moatmetrics.contract.entities import SQL_TYPES, TEXT_MAX_CHARS, Column, Entity

TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")

_INT_RE = r"[+-]?[0-9]+(\.0*)?"
_DECIMAL_RE = r"[+-]?([0-9]{1,14}(\.[0-9]{0,4})?|\.[0-9]{1,4})"
_ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]00:00(:00(\.0+)?)?)?"
# C0 and C1 control characters and DEL (tabs and line breaks included): none belongs in a
# name or an id, and they break reports, terminals and spreadsheets.
_CONTROL_RE = r"[\x00-\x1f\x7f-\x9f]"


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class ValidationContext:
    upload_date: date
    reporting_currency: str
    date_format: str | None = None

    def suite_parameters(self) -> dict[str, object]:
        """Parameters the expectation suites may refer to (``{"$PARAMETER": name}``)."""
        return {
            "upload_date": self.upload_date,
            "reporting_currency": self.reporting_currency,
            "reporting_currencies": [self.reporting_currency],
        }

    def substitute(self, sql: str) -> str:
        return sql.replace("$upload_date", sql_literal(self.upload_date)).replace(
            "$reporting_currency", sql_literal(self.reporting_currency)
        )


@dataclass(frozen=True)
class ColumnSource:
    """Where a contract column's text comes from in the file (None = the file lacks it)."""

    column: Column
    source: str | None


def _typed_expr(col: Column, text: str, ctx: ValidationContext) -> str:
    if col.type == "string":
        return text
    if col.type == "enum":
        return f"replace(replace(lower({text}), ' ', '_'), '-', '_')"
    if col.type == "currency":
        return f"upper({text})"
    if col.type == "bool":
        return (
            f"CASE WHEN lower({text}) IN {TRUE_WORDS} THEN TRUE"
            f" WHEN lower({text}) IN {FALSE_WORDS} THEN FALSE END"
        )
    if col.type == "int":
        return (
            f"CASE WHEN regexp_full_match({text}, '{_INT_RE}')"
            f" THEN try_cast(try_cast({text} AS DECIMAL(38,4)) AS BIGINT) END"
        )
    if col.type == "decimal":
        return (
            f"CASE WHEN regexp_full_match({text}, '{_DECIMAL_RE}')"
            f" THEN try_cast({text} AS {SQL_TYPES['decimal']}) END"
        )
    if col.type == "date":
        iso = (
            f"CASE WHEN regexp_full_match({text}, '{_ISO_DATE_RE}')"
            f" THEN try_cast(left({text}, 10) AS DATE) END"
        )
        if ctx.date_format:
            fmt = sql_literal(ctx.date_format)
            return f"coalesce({iso}, CAST(try_strptime({text}, {fmt}) AS DATE))"
        return iso
    raise ValueError(f"unknown column type {col.type}")


def parsed_select(sources: list[ColumnSource], ctx: ValidationContext, table: str) -> str:
    """SELECT building ``<t>_parsed`` from the text table."""
    parts = ["_row_number"]
    for src in sources:
        name = src.column.name
        if src.source is None:
            parts.append(f"CAST(NULL AS VARCHAR) AS {name}__raw")
            parts.append(f"CAST(NULL AS {SQL_TYPES[src.column.type]}) AS {name}")
        else:
            text = f"nullif(trim(\"{src.source}\"), '')"
            parts.append(f"{text} AS {name}__raw")
            parts.append(f"{_typed_expr(src.column, text, ctx)} AS {name}")
    return f"SELECT {', '.join(parts)} FROM {table}"


def typed_select(
    sources: list[ColumnSource],
    ctx: ValidationContext,
    parsed: str,
    derived: dict[str, str],
) -> str:
    """SELECT building ``<t>_typed``: defaults and derived values applied.

    ``derived`` maps a column to a SQL expression over ``parsed`` that replaces it entirely
    (ids of 1.x files, line numbers in file order).
    """
    parts = ["_row_number"]
    for src in sources:
        col = src.column
        if col.name in derived:
            expr = derived[col.name]
        elif col.default_sql:
            expr = f"coalesce({col.name}, {ctx.substitute(col.default_sql)})"
        else:
            expr = col.name
        parts.append(f"CAST({expr} AS {SQL_TYPES[col.type]}) AS {col.name}")
        parts.append(f"{col.name}__raw")
    return f"SELECT {', '.join(parts)} FROM {parsed}"


def _problem(
    table: str,
    column: str,
    value_sql: str,
    condition: str,
    rule_sql: str,
    fix_sql: str,
    severity: str,
) -> str:
    return (
        f"SELECT _row_number, {sql_literal(column)} AS column_name,"
        f" CAST({value_sql} AS VARCHAR) AS value, {rule_sql} AS rule, {fix_sql} AS fix,"
        f" {sql_literal(severity)} AS severity FROM {table} WHERE {condition}"
    )


def _text_problem(col: Column, parsed: str) -> str:
    """Text with a control character, or longer than the contract allows."""
    raw = f"{col.name}__raw"
    control = f"regexp_matches({raw}, '{_CONTROL_RE}')"
    too_long = f"length({raw}) > {TEXT_MAX_CHARS}"
    # The value as shown in reports: control characters made visible, long text cut.
    shown = (
        f"regexp_replace(left({raw}, 80), '{_CONTROL_RE}', '\ufffd', 'g')"
        f" || CASE WHEN length({raw}) > 80 THEN '…' ELSE '' END"
    )
    rule = (
        f"CASE WHEN {control} THEN 'contains a control character ('"
        f" || printf('U+%04X', unicode(regexp_extract({raw}, '{_CONTROL_RE}'))) || ')'"
        f" ELSE 'longer than {TEXT_MAX_CHARS} characters (' || length({raw}) || ')' END"
    )
    fix = (
        f"CASE WHEN {control} THEN 'remove line breaks, tabs and other control characters"
        " from the text'"
        f" ELSE 'shorten it to at most {TEXT_MAX_CHARS} characters' END"
    )
    condition = f"{raw} IS NOT NULL AND ({control} OR {too_long})"
    return _problem(parsed, col.name, shown, condition, rule, fix, "error")


def _type_problem(col: Column, parsed: str, ctx: ValidationContext) -> str | None:
    raw = f"{col.name}__raw"
    if col.type == "string":
        return _text_problem(col, parsed)
    if col.type == "enum":
        return None  # allowed values are a rule of the entity's suite
    if col.type == "currency":
        return _problem(
            parsed,
            col.name,
            raw,
            f"{col.name} IS NOT NULL AND NOT regexp_full_match({col.name}, '[A-Z]{{3}}')",
            sql_literal("not an ISO 4217 currency code"),
            sql_literal("use a three-letter code such as USD"),
            "error",
        )
    condition = f"{raw} IS NOT NULL AND {col.name} IS NULL"
    if col.type == "bool":
        rule = sql_literal("not a yes/no value")
        fix = sql_literal("use true/false, yes/no, y/n or 1/0")
    elif col.type == "date":
        rule = (
            f"CASE WHEN regexp_full_match({raw}, '{_ISO_DATE_RE}') THEN 'not a real calendar"
            " date' ELSE 'not an ISO date (YYYY-MM-DD)' END"
        )
        fix = sql_literal(
            "write dates as YYYY-MM-DD (e.g. 2025-03-12); other layouts need an explicit"
            " MOATMETRICS_DATE_FORMAT, they are never guessed"
        )
    else:
        whole = col.type == "int"
        rule = (
            f"CASE WHEN regexp_matches({raw}, '[$€£¥]|^[A-Z]{{3}} ') THEN 'currency sign in a"
            " number'"
            f" WHEN contains({raw}, ',') THEN 'thousands separator or decimal comma'"
            + (
                f" WHEN regexp_full_match({raw}, '[+-]?[0-9]*\\.[0-9]+') THEN 'not a whole number'"
                if whole
                else f" WHEN regexp_full_match({raw}, '[+-]?[0-9]*\\.[0-9]{{5,}}') THEN"
                " 'more than 4 decimal places'"
            )
            + " ELSE 'not a number' END"
        )
        fix = (
            f"CASE WHEN regexp_matches({raw}, '[$€£¥]|^[A-Z]{{3}} ') THEN 'remove the currency"
            " sign; amounts are in the reporting currency'"
            f" WHEN contains({raw}, ',') THEN 'write plain numbers like 1234.50, with no"
            " thousands separator and a point for decimals'"
            + (
                " ELSE 'use a whole number, e.g. 10'"
                if whole
                else " ELSE 'use a plain number like 1234.50'"
            )
            + " END"
        )
    return _problem(parsed, col.name, raw, condition, rule, fix, "error")


def parse_problems_select(sources: list[ColumnSource], ctx: ValidationContext, parsed: str) -> str:
    """Values that cannot be read as their contract type (empty when the file is clean)."""
    selects = [
        problem
        for src in sources
        if src.source is not None and (problem := _type_problem(src.column, parsed, ctx))
    ]
    if not selects:
        return (
            "SELECT CAST(NULL AS BIGINT) AS _row_number, '' AS column_name, '' AS value,"
            " '' AS rule, '' AS fix, '' AS severity WHERE FALSE"
        )
    return " UNION ALL ".join(selects)


def exact_duplicates_select(entity: Entity, typed: str, excluded: str) -> str:
    """Rows that repeat an earlier row of the same file exactly (re-export duplicates).

    Only the repeats are rejected, pointing at the first; rows that share a key but differ are
    caught by the suite's uniqueness rule, which rejects all of them.
    """
    key = ", ".join(entity.key)
    content = "md5(CAST(ROW(" + ", ".join(entity.column_names) + ") AS VARCHAR))"
    # Hash row contents only where a key occurs more than once: cheap on clean files.
    return f"""
        WITH keyed AS (
            SELECT _row_number, ROW({key}) AS key_struct, concat_ws(', ', {key}) AS key_value
            FROM {typed}
            WHERE _row_number NOT IN (SELECT _row_number FROM {excluded})
        ), repeated_keys AS (
            SELECT key_struct FROM keyed GROUP BY key_struct HAVING count(*) > 1
        ), candidates AS (
            SELECT t._row_number, k.key_value,
                   min(t._row_number) OVER (PARTITION BY k.key_struct, {content}) AS first_row
            FROM keyed k SEMI JOIN repeated_keys r ON k.key_struct = r.key_struct
            JOIN {typed} t ON t._row_number = k._row_number
        )
        SELECT _row_number, {sql_literal(entity.column_names[0])} AS column_name,
               key_value AS value, 'exact duplicate of row ' || first_row AS rule,
               'remove the repeated row' AS fix, 'error' AS severity
        FROM candidates
        WHERE _row_number <> first_row
    """
