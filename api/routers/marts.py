"""Read-only access to the published marts, for BI tools, spreadsheets and scripts.

One route per mart (each with its own filters and row schema in the OpenAPI docs) and a
catch-all that answers 404 for any other name. Handlers only wire parameters to
`api.mart_queries` and `api.mart_page_output`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from api.client_scope import ScopedClients
from api.dependencies import CurrentSnapshot, get_page_cache, get_store, only_query_params
from api.mart_catalog import (
    ACTIONS,
    ANOMALIES,
    BENCHMARKS,
    CLIENT_PROFITABILITY,
    CLIENT_RISK,
    FORECASTS,
    LICENSE_UTILIZATION,
    MARTS,
    MONTH_COMPLETENESS,
    STAFF_UTILIZATION,
    TRENDS,
    MartSpec,
    describe_marts,
)
from api.mart_page_output import COLUMNAR_FORMATS, page_columnar, page_csv, page_json
from api.mart_queries import MartQuery, build_query, read_page_arrow, read_rows
from api.page_cache import PageCache
from api.problems import (
    problem_responses,
    snapshot_pointer_broken,
    snapshot_unavailable,
    unknown_mart,
)
from api.schemas import MartCatalog
from api.security import Authorize
from moatmetrics.seam.base import (
    BrokenPointerError,
    NoSnapshotError,
    SnapshotOpenError,
    SnapshotReader,
)

router = APIRouter(prefix="/api/v1/marts", tags=["marts"])
# Every read of mart rows is audited with its filters (the query string) and snapshot id.
READ = Depends(Authorize("viewer", "marts.read"))
CATALOG = Depends(Authorize("viewer", "marts.catalog"))
# Marts with a client_id column serve client-scoped keys their clients' rows only; the others
# (staff utilisation, month completeness, the catalog's row counts) span every client: 403.
SCOPED_READ = Depends(Authorize("viewer", "marts.read", scoped=True))

MAX_LIMIT = 10_000
_MONTH_PATTERN = r"^\d{4}-\d{2}(-\d{2})?$"
_COMMON_PARAMS = ("month_from", "month_to", "sort", "limit", "offset", "format")
Format = Literal["json", "csv", "parquet", "arrow"]
# Per key and role (never for a shared cache), and revalidated on every use: the ETag makes the
# revalidation a cheap 304, and every use still passes the gate and is audited.
CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class PageParams:
    month_from: str | None
    month_to: str | None
    sort: str | None
    limit: int
    offset: int
    format: Format
    if_none_match: str | None = None
    scope: frozenset[str] | None = None


def page_params(
    scope: ScopedClients,
    month_from: Annotated[
        str | None,
        Query(
            pattern=_MONTH_PATTERN,
            description="First month to include: YYYY-MM or YYYY-MM-DD (the whole month of "
            "that day is included).",
            examples=["2024-01"],
        ),
    ] = None,
    month_to: Annotated[
        str | None,
        Query(
            pattern=_MONTH_PATTERN,
            description="Last month to include (inclusive).",
            examples=["2024-06"],
        ),
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            description="Comma-separated columns, `-column` for descending. Default and "
            "tie-breaker: the mart's grain columns.",
            examples=["-gross_profit,client_id"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Rows per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**12, description="Rows to skip.")] = 0,
    format: Annotated[
        Format,
        Query(
            description="`csv` returns text/csv with a header row; `parquet` a Parquet file and "
            "`arrow` an Arrow IPC stream (exact decimal money, for Power BI, Excel, pandas)."
        ),
    ] = "json",
    if_none_match: Annotated[
        str | None,
        Header(
            description="ETag of a page you hold: 304 Not Modified while the snapshot and "
            "query are the same."
        ),
    ] = None,
) -> PageParams:
    return PageParams(month_from, month_to, sort, limit, offset, format, if_none_match, scope)


Page = Annotated[PageParams, Depends(page_params)]
Cache = Annotated[PageCache, Depends(get_page_cache)]
Values = list[str] | None


def _values(description: str) -> Any:
    return Query(description=description + " Repeat the parameter to match several values.")


def page_etag(snapshot_id: str, mart: str, format: str, query: MartQuery) -> str:
    """Strong ETag of one page: exact, because a snapshot never changes after its publish.

    Built from the normalised query (`MartQuery.cache_key`: filters sorted, months parsed), so
    the same question asked with its parameters in another order gets the same tag.
    """
    text = repr((snapshot_id, mart, format, query.cache_key()))
    return '"' + hashlib.blake2b(text.encode(), digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or any listed tag, compared weakly (W/ ignored)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _serve(
    spec: MartSpec,
    snapshot: CurrentSnapshot,
    page: PageParams,
    filters: dict[str, Values],
    cache: PageCache,
) -> Response:
    query = build_query(
        spec, filters, page.month_from, page.month_to, page.sort, page.limit, page.offset,
        page.scope,
    )  # fmt: skip
    snapshot_id = snapshot.snapshot.snapshot_id
    etag = page_etag(snapshot_id, spec.name, page.format, query)
    validators = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(page.if_none_match, etag):
        # No query runs; the gate still audits this read, with status 304 and the snapshot.
        return Response(status_code=304, headers={**validators, "X-Snapshot-Id": snapshot_id})

    def render() -> Response:
        if page.format in COLUMNAR_FORMATS:
            total, table = read_page_arrow(spec, snapshot, query)
            return page_columnar(spec, snapshot_id, total, table, page.format)
        result = read_rows(spec, snapshot, query)
        return page_csv(spec, result) if page.format == "csv" else page_json(spec, result)

    key = (snapshot_id, spec.name, page.format, query.cache_key())
    response = cache.get_or_render(key, render)
    response.headers.update(validators)
    return response


def _route(spec: MartSpec) -> dict[str, Any]:
    return {
        "path": f"/{spec.name}",
        "response_model": spec.page_model,
        "summary": f"Rows of marts.{spec.name}",
        "description": spec.description
        + f" Grain: {', '.join(spec.grain)}. Money and hours are exact decimals with 2 places;"
        " rates are fractions.",
        "responses": {
            200: {
                "content": {
                    "text/csv": {},
                    **{media: {} for media, _ in COLUMNAR_FORMATS.values()},
                },
                "description": "A page of rows (JSON, CSV, Parquet or Arrow IPC stream).",
            },
            304: {"description": "Not modified: the page of the If-None-Match ETag."},
            **problem_responses(404, 422, 503),
        },
        "dependencies": [
            SCOPED_READ if spec.column("client_id") else READ,
            Depends(only_query_params(*_COMMON_PARAMS, *spec.filters)),
        ],
    }


@router.get(
    "",
    response_model=MartCatalog,
    summary="The marts, their columns and row counts",
    dependencies=[CATALOG],
    responses=problem_responses(503),
)
def list_marts(store: Annotated[SnapshotReader, Depends(get_store)]) -> MartCatalog:
    """Works before the first publish too (row counts and SQL types are then null)."""
    try:
        with store.lease() as lease:
            return describe_marts(
                lease.snapshot.snapshot_id, lease.snapshot.row_counts, lease.tables
            )
    except NoSnapshotError:
        return describe_marts(None, {}, {})
    except BrokenPointerError as exc:
        raise snapshot_pointer_broken() from exc
    except SnapshotOpenError as exc:
        raise snapshot_unavailable(exc.snapshot_id) from exc


@router.get(**_route(CLIENT_PROFITABILITY))
def client_profitability(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    client_id: Annotated[Values, _values("Only these clients.")] = None,
) -> Response:
    return _serve(CLIENT_PROFITABILITY, snapshot, page, {"client_id": client_id}, cache)


@router.get(**_route(LICENSE_UTILIZATION))
def license_utilization(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    client_id: Annotated[Values, _values("Only these clients.")] = None,
    vendor: Annotated[Values, _values("Only these vendors.")] = None,
    product: Annotated[Values, _values("Only these products.")] = None,
) -> Response:
    filters = {"client_id": client_id, "vendor": vendor, "product": product}
    return _serve(LICENSE_UTILIZATION, snapshot, page, filters, cache)


@router.get(**_route(STAFF_UTILIZATION))
def staff_utilization(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    staff_id: Annotated[Values, _values("Only these staff members.")] = None,
) -> Response:
    return _serve(STAFF_UTILIZATION, snapshot, page, {"staff_id": staff_id}, cache)


@router.get(**_route(CLIENT_RISK))
def client_risk(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    client_id: Annotated[Values, _values("Only these clients.")] = None,
) -> Response:
    return _serve(CLIENT_RISK, snapshot, page, {"client_id": client_id}, cache)


@router.get(**_route(MONTH_COMPLETENESS))
def month_completeness(page: Page, snapshot: CurrentSnapshot, cache: Cache) -> Response:
    return _serve(MONTH_COMPLETENESS, snapshot, page, {}, cache)


@router.get(**_route(TRENDS))
def trends(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    entity_type: Annotated[Values, _values("Only these entity types.")] = None,
    entity_key: Annotated[Values, _values("Only these entities.")] = None,
    client_id: Annotated[Values, _values("Only these clients' series.")] = None,
    staff_id: Annotated[Values, _values("Only these staff members' series.")] = None,
    metric: Annotated[Values, _values("Only these metrics.")] = None,
    direction: Annotated[Values, _values("Only these directions.")] = None,
) -> Response:
    filters = {
        "entity_type": entity_type,
        "entity_key": entity_key,
        "client_id": client_id,
        "staff_id": staff_id,
        "metric": metric,
        "direction": direction,
    }
    return _serve(TRENDS, snapshot, page, filters, cache)


@router.get(**_route(ACTIONS))
def actions(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    action: Annotated[Values, _values("Only these kinds of action.")] = None,
    client_id: Annotated[Values, _values("Only these clients' actions.")] = None,
    staff_id: Annotated[Values, _values("Only these staff members' actions.")] = None,
) -> Response:
    filters = {"action": action, "client_id": client_id, "staff_id": staff_id}
    return _serve(ACTIONS, snapshot, page, filters, cache)


@router.get(**_route(BENCHMARKS))
def benchmarks(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    metric: Annotated[Values, _values("Only these metrics.")] = None,
    position: Annotated[Values, _values("below, within or above.")] = None,
) -> Response:
    return _serve(BENCHMARKS, snapshot, page, {"metric": metric, "position": position}, cache)


@router.get(**_route(FORECASTS))
def forecasts(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    entity_type: Annotated[Values, _values("Only client, staff or team series.")] = None,
    entity_key: Annotated[Values, _values("Only these entities' series.")] = None,
    client_id: Annotated[Values, _values("Only these clients' series.")] = None,
    staff_id: Annotated[Values, _values("Only these staff members' series.")] = None,
    metric: Annotated[Values, _values("Only these metrics.")] = None,
    status: Annotated[Values, _values("forecast or too_little_history.")] = None,
) -> Response:
    filters = {
        "entity_type": entity_type,
        "entity_key": entity_key,
        "client_id": client_id,
        "staff_id": staff_id,
        "metric": metric,
        "status": status,
    }
    return _serve(FORECASTS, snapshot, page, filters, cache)


@router.get(**_route(ANOMALIES))
def anomalies(
    page: Page,
    snapshot: CurrentSnapshot,
    cache: Cache,
    entity_type: Annotated[Values, _values("Only client, license or staff anomalies.")] = None,
    entity_key: Annotated[Values, _values("Only these entities.")] = None,
    client_id: Annotated[Values, _values("Only these clients' anomalies.")] = None,
    staff_id: Annotated[Values, _values("Only these staff members' anomalies.")] = None,
    kind: Annotated[Values, _values("Only these kinds (hours_spike, revenue_drop, ...).")] = None,
    severity: Annotated[Values, _values("medium or high.")] = None,
) -> Response:
    filters = {
        "entity_type": entity_type,
        "entity_key": entity_key,
        "client_id": client_id,
        "staff_id": staff_id,
        "kind": kind,
        "severity": severity,
    }
    return _serve(ANOMALIES, snapshot, page, filters, cache)


@router.get("/{name}", include_in_schema=False, dependencies=[READ])
def unknown(name: str) -> Response:
    """Any other name: 404 problem naming the known marts (registered last)."""
    raise unknown_mart(name, sorted(MARTS))
