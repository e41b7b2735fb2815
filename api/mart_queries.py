"""Turn validated query parameters into parameterised SQL over one snapshot's marts.

Identifiers come only from the mart catalog (`api.mart_catalog`); every user value travels as a
bound parameter. Each column is cast to the type of its response field, so rows render the same
whatever numeric type the dbt model chose (money and hours as DECIMAL(38,2), rates as DOUBLE
with non-finite values as null, because a ratio with a zero denominator is null by definition).
Sorting always ends with the grain columns, so pages are stable and never overlap.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from api.mart_catalog import Column, MartSpec
from api.problems import ProblemError, invalid_parameter
from api.schemas import MartPage
from moatmetrics.seam.base import SnapshotLease
from moatmetrics.seam.dialect import DUCKDB, Dialect

_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class MartQuery:
    """What one request asks of a mart, already validated against the mart's columns."""

    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    month_from: date | None = None
    month_to: date | None = None
    sort: tuple[SortKey, ...] = ()
    limit: int = 100
    offset: int = 0
    # Client-scoped access (`api.client_scope`): only these client ids; () selects nothing,
    # None is no limit. Kept apart from `filters`, where an empty list means "not filtered".
    clients: tuple[str, ...] | None = None
    # The column month_from / month_to apply to (MartSpec.month_column).
    month_column: str = "month"

    def cache_key(self) -> tuple:
        """Everything that decides the page, hashable (filters in a canonical order)."""
        filters = tuple(sorted((name, tuple(values)) for name, values in self.filters.items()))
        if self.clients is not None:
            filters += (("\x00client-scope", self.clients),)
        return (filters, self.month_from, self.month_to, self.sort, self.limit, self.offset)


def parse_month(text: str) -> date:
    """YYYY-MM or YYYY-MM-DD -> first day of that month (months are stored as first days)."""
    match = _MONTH.fullmatch(text.strip())
    if not match:
        raise ValueError("expected YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(part) if part else 1 for part in match.groups())
    date(year, month, day)  # raises ValueError for 2024-13 or 2024-02-30
    return date(year, month, 1)


def parse_sort(spec: MartSpec, text: str | None) -> tuple[SortKey, ...]:
    """`-revenue,client_id` -> sort keys; unknown or repeated columns are a 422."""
    if text is None or not text.strip():
        return ()
    keys: list[SortKey] = []
    for raw in text.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        name = item[1:] if item.startswith(("+", "-")) else item
        if spec.column(name) is None:
            allowed = ", ".join(spec.column_names)
            raise invalid_parameter("sort", f"unknown column {name!r}; sortable: {allowed}")
        if any(key.column == name for key in keys):
            raise invalid_parameter("sort", f"column {name!r} is listed twice")
        keys.append(SortKey(name, descending))
    return tuple(keys)


def build_query(
    spec: MartSpec,
    filters: Mapping[str, Sequence[str] | None],
    month_from: str | None,
    month_to: str | None,
    sort: str | None,
    limit: int,
    offset: int,
    scope: frozenset[str] | None = None,
) -> MartQuery:
    """Validate the parts FastAPI cannot check alone (they depend on the mart).

    `scope` is the caller's client scope (`api.client_scope.ScopedClients`): the page then
    holds only those clients' rows, whatever `client_id` filter was asked.
    """
    months = {}
    for name, text in (("month_from", month_from), ("month_to", month_to)):
        try:
            months[name] = parse_month(text) if text else None
        except ValueError as exc:
            raise invalid_parameter(name, f"{text!r}: {exc}") from None
    if months["month_from"] and months["month_to"] and months["month_from"] > months["month_to"]:
        raise invalid_parameter("month_to", "must not be before month_from")
    if spec.month_column is None and (months["month_from"] or months["month_to"]):
        name = "month_from" if months["month_from"] else "month_to"
        raise invalid_parameter(
            name, f"marts.{spec.name} has no month column; leave month_from and month_to out"
        )
    return MartQuery(
        # `IN` ignores order and repeats: one canonical form, one cache entry and one ETag.
        filters={name: tuple(sorted(set(values))) for name, values in filters.items() if values},
        month_from=months["month_from"],
        month_to=months["month_to"],
        sort=parse_sort(spec, sort),
        limit=limit,
        offset=offset,
        clients=None if scope is None else tuple(sorted(scope)),
        month_column=spec.month_column or "month",
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot_table(lease: SnapshotLease, mart: str) -> str:
    """The mart's table in the leased snapshot, quoted (`"marts"."x"` or `"snapshot_<id>"."x"`)."""
    return f"{_ident(lease.schema)}.{_ident(mart)}"


def _select_item(column: Column, present: Mapping[str, str], dialect: Dialect) -> str:
    sql_type = dialect.types[column.kind]
    source = f"CAST({_ident(column.name)} AS {sql_type})" if column.name in present else "NULL"
    if column.kind == "number" and column.name in present:
        source = f"CASE WHEN {dialect.finite(source)} THEN {source} END"
    return f"CAST({source} AS {sql_type}) AS {_ident(column.name)}"


def _missing_columns(spec: MartSpec, query: MartQuery, present: Mapping[str, str]) -> list[str]:
    needed = {c.name for c in spec.columns if not c.nullable} | set(query.filters)
    if query.clients is not None:
        needed.add("client_id")
    return sorted(needed - set(present))


def _where(query: MartQuery, mark: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, values in query.filters.items():
        clauses.append(f"{_ident(name)} IN ({', '.join(mark for _ in values)})")
        params.extend(values)
    if query.clients is not None:
        # Empty scope intersection: no row may match (never "no filter").
        marks = ", ".join(mark for _ in query.clients)
        clauses.append(f'"client_id" IN ({marks})' if query.clients else "1 = 0")
        params.extend(query.clients)
    if query.month_from:
        clauses.append(f"{_ident(query.month_column)} >= {mark}")
        params.append(query.month_from)
    if query.month_to:
        clauses.append(f"{_ident(query.month_column)} <= {mark}")
        params.append(query.month_to)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _order_by(spec: MartSpec, query: MartQuery) -> str:
    keys = list(query.sort)
    keys += [SortKey(name) for name in spec.grain if all(k.column != name for k in keys)]
    return ", ".join(
        f"{_ident(k.column)} {'DESC' if k.descending else 'ASC'} NULLS LAST" for k in keys
    )


def _page_sql(
    spec: MartSpec,
    query: MartQuery,
    tables: Mapping[str, Mapping[str, str]],
    schema: str,
    dialect: Dialect,
) -> tuple[str, str, list[Any]]:
    """The count query, the page query and their shared filter parameters (page query:
    append limit and offset)."""
    present = tables.get(spec.name)
    if present is None:
        raise ProblemError(
            404,
            "mart-not-in-snapshot",
            "Mart not in snapshot",
            f"The current snapshot does not contain the mart {spec.name!r}.",
        )
    missing = _missing_columns(spec, query, present)
    if missing:
        raise ProblemError(
            500,
            "snapshot-contract",
            "Snapshot does not match the mart contract",
            f"The current snapshot's {spec.name} lacks required columns: {', '.join(missing)}.",
        )
    table = f"{_ident(schema)}.{_ident(spec.name)}"
    mark = dialect.placeholder
    where, params = _where(query, mark)
    select = ", ".join(_select_item(column, present, dialect) for column in spec.columns)
    order = _order_by(spec, query)
    count = f"SELECT count(*) FROM {table}{where}"
    page = f"SELECT {select} FROM {table}{where} ORDER BY {order} LIMIT {mark} OFFSET {mark}"
    return count, page, params


def fetch_page(
    cursor: Any,
    spec: MartSpec,
    query: MartQuery,
    tables: Mapping[str, Mapping[str, str]],
    schema: str = "marts",
    dialect: Dialect = DUCKDB,
    total: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Total matching rows and the requested page, fully fetched (DuckDB 2.0 streams).

    `cursor` is a DuckDB cursor or a psycopg cursor; `schema` holds the snapshot's marts.
    A `total` already known (`TOTALS`) saves the count query: one query per page.
    """
    count, sql, params = _page_sql(spec, query, tables, schema, dialect)
    if total is None:
        counted = cursor.execute(count, params).fetchone()
        total = counted[0] if counted else 0
    rows = cursor.execute(sql, [*params, query.limit, query.offset]).fetchall()
    names = spec.column_names
    return total, [dict(zip(names, row, strict=True)) for row in rows]


class TotalCache:
    """Matching-row counts per (snapshot, mart, filters): exact, a snapshot never changes.

    Paging through a mart, or asking the same filter sorted another way, then costs one query
    per page instead of two. Bounded LRU; a publish makes old keys unreachable.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(lease: SnapshotLease, spec: MartSpec, query: MartQuery) -> Hashable:
        filters, month_from, month_to, *_ = query.cache_key()
        return (lease.snapshot.snapshot_id, spec.name, filters, month_from, month_to)

    def get(self, key: Hashable) -> int | None:
        with self._lock:
            total = self._entries.get(key)
            if total is not None:
                self._entries.move_to_end(key)
            return total

    def put(self, key: Hashable, total: int) -> None:
        with self._lock:
            self._entries[key] = total
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


TOTALS = TotalCache()


@dataclass(frozen=True)
class PageRows:
    """A page as fetched: plain row dicts in column order, rendered without re-validation
    (the SQL already cast every column to its response type)."""

    mart: str
    snapshot_id: str
    total: int
    limit: int
    offset: int
    rows: list[dict[str, Any]]


def read_rows(spec: MartSpec, lease: SnapshotLease, query: MartQuery) -> PageRows:
    """One page of a mart from the leased snapshot, counted at most once per filter."""
    key = TotalCache.key(lease, spec, query)
    known = TOTALS.get(key)
    total, rows = fetch_page(
        lease.cursor, spec, query, lease.tables, lease.schema, lease.dialect, known
    )
    if known is None:
        TOTALS.put(key, total)
    return PageRows(spec.name, lease.snapshot.snapshot_id, total, query.limit, query.offset, rows)


_ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(38, 2),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "number": pa.float64(),
}


def arrow_schema(spec: MartSpec) -> pa.Schema:
    """The mart's Arrow schema, the same in both modes (money stays an exact decimal)."""
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.kind], nullable=c.nullable) for c in spec.columns]
    )


def read_page_arrow(spec: MartSpec, lease: SnapshotLease, query: MartQuery) -> tuple[int, pa.Table]:
    """Total matching rows and the page as an Arrow table, for the columnar exports.

    DuckDB hands its result over as Arrow record batches (vectorised, no Python row objects).
    PostgreSQL mode reads the page through psycopg and builds the columns from it (no
    postgres scanner is installed offline, see docs/api.md).
    """
    count, sql, params = _page_sql(spec, query, lease.tables, lease.schema, lease.dialect)
    cursor = lease.cursor
    key = TotalCache.key(lease, spec, query)
    total = TOTALS.get(key)
    if total is None:
        counted = cursor.execute(count, params).fetchone()
        total = counted[0] if counted else 0
        TOTALS.put(key, total)
    schema = arrow_schema(spec)
    result = cursor.execute(sql, [*params, query.limit, query.offset])
    if lease.dialect is DUCKDB:
        table = result.to_arrow_table()
        return total, table.cast(schema)
    columns = list(zip(*result.fetchall(), strict=True)) or [() for _ in spec.columns]
    arrays = [
        pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
    ]
    return total, pa.Table.from_arrays(arrays, schema=schema)


def read_page(spec: MartSpec, lease: SnapshotLease, query: MartQuery) -> MartPage:
    """One validated page of a mart from the leased snapshot."""
    total, rows = fetch_page(lease.cursor, spec, query, lease.tables, lease.schema, lease.dialect)
    return spec.page_model(
        mart=spec.name,
        snapshot_id=lease.snapshot.snapshot_id,
        total=total,
        limit=query.limit,
        offset=query.offset,
        rows=rows,
    )
