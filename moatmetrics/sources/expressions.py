"""The small expression language of profiles: SQL over whole columns, with placeholders.

An expression is a DuckDB SQL expression in which ``{Header}`` stands for a column of the
file (trimmed text, NULL when empty), ``{date:Header}`` for its date in the profile's date
layout, ``{num:Header}`` for its number (money layout applied) and ``{_group}``, ``{_item}``,
``{_as_of}``, ``{_client}``, ``{_upload_date}`` for the engine's values (the group row's name,
the exploded list item, the file's date, ``--client``, the upload date). Profiles are user
files, so only a short list of words is allowed: no statements, no table access.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_STRING = re.compile(r"'(?:[^']|'')*'")
_TOKEN = re.compile(
    r"\s*(?:([A-Za-z_][A-Za-z_0-9]*)|([0-9]+(?:\.[0-9]+)?)|(<=|>=|<>|!=|\|\||[-+*/%=<>(),.]))"
)
ENGINE_VALUES = (
    "_group",
    "_item",
    "_as_of",
    "_client",
    "_upload_date",
    "_client_tracking",
    "_timezone",
)

ALLOWED_WORDS = frozenset(
    [
        "sum",
        "over",
        "partition",
        "by",
        "timezone",
        "timestamptz",
        "abs",
        "and",
        "as",
        "between",
        "bigint",
        "boolean",
        "case",
        "cast",
        "coalesce",
        "concat",
        "contains",
        "date",
        "date_trunc",
        "day",
        "days",
        "decimal",
        "distinct",
        "double",
        "else",
        "end",
        "ends_with",
        "false",
        "from",
        "greatest",
        "ilike",
        "in",
        "integer",
        "interval",
        "is",
        "last_day",
        "least",
        "left",
        "length",
        "like",
        "list_contains",
        "lower",
        "md5",
        "month",
        "not",
        "null",
        "nullif",
        "or",
        "regexp_full_match",
        "regexp_matches",
        "regexp_replace",
        "replace",
        "right",
        "round",
        "split_part",
        "starts_with",
        "strftime",
        "string_split",
        "substr",
        "then",
        "trim",
        "true",
        "try_cast",
        "try_strptime",
        "upper",
        "varchar",
        "when",
        "year",
    ]
)


class ExpressionError(ValueError):
    pass


def placeholders(expr: str) -> list[str]:
    return PLACEHOLDER.findall(expr)


def check_expression(expr: str) -> None:
    """Refuse anything but the allowed words, literals, operators and placeholders."""
    text = _STRING.sub(" ", PLACEHOLDER.sub(" x ", expr))
    if "--" in text or "/*" in text or "*/" in text:
        raise ExpressionError(f"comments are not allowed in expression {expr!r}")
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"cannot read '{text[pos:].strip()[:20]}' in expression {expr!r}")
        word = match.group(1)
        if word and word.lower() not in ALLOWED_WORDS and word != "x":
            raise ExpressionError(
                f"'{word}' is not allowed in expression {expr!r}; refer to columns as {{Header}}"
            )
        pos = match.end()
    for name in placeholders(expr):
        kind, _, header = name.partition(":")
        if name.startswith("_") and name not in ENGINE_VALUES:
            raise ExpressionError(
                f"unknown engine value {{{name}}} in {expr!r}; known: {', '.join(ENGINE_VALUES)}"
            )
        if header and kind not in ("date", "num"):
            raise ExpressionError(f"unknown placeholder kind '{kind}:' in {expr!r} (date:, num:)")


def render(expr: str, resolve: Callable[[str], str]) -> str:
    """Replace each placeholder by the SQL ``resolve`` gives for it."""
    return PLACEHOLDER.sub(lambda m: "(" + resolve(m.group(1)) + ")", expr)
