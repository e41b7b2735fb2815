"""The few SQL differences between the two storage back ends snapshots are read from.

DuckDB (a snapshot file) and PostgreSQL (a `snapshot_<id>` schema) run the same mart queries
(`api.mart_queries`); only the parameter marker, two type names and the test for a finite
floating-point value differ. They live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    #: Bound-parameter marker of the driver (`?` for DuckDB, `%s` for psycopg).
    placeholder: str
    #: SQL type per response field kind (`api.mart_catalog.Column.kind`).
    types: Mapping[str, str]
    #: SQL that is true when a DOUBLE expression is neither infinite nor NaN.
    finite: Callable[[str], str]


_COMMON_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(38, 2)",
    "date": "DATE",
    "boolean": "BOOLEAN",
}

DUCKDB = Dialect(
    name="duckdb",
    placeholder="?",
    types={**_COMMON_TYPES, "number": "DOUBLE"},
    finite=lambda expression: f"isfinite({expression})",
)

POSTGRES = Dialect(
    name="postgres",
    placeholder="%s",
    types={**_COMMON_TYPES, "number": "DOUBLE PRECISION"},
    # PostgreSQL has no isfinite() for floats; NaN compares equal to 'NaN' there.
    finite=lambda expression: f"{expression} NOT IN ('Infinity', '-Infinity', 'NaN')",
)
