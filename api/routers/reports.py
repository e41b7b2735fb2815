"""QBR reports as files: client profitability and license savings, as PDF or XLSX.

Each comes in two versions (`audience`): `internal` for the MSP (margins, costs, confidence),
and `client`, the client's QBR (one client; what it bought and used, its licenses with renewal
dates and recommendations, charts, the MSP's name and logo; no margin, cost or other client).

The marts are read exactly as `/api/v1/marts/...` reads them (the request's snapshot lease,
`api.mart_queries`, the catalog's row models), so every number in a report is the number the
API serves for the same filters. The content and its rendering are `moatmetrics.reports`;
handlers only wire parameters, reads and builders together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.client_scope import ScopedClients
from api.dependencies import CurrentSnapshot, get_settings, only_query_params
from api.mart_catalog import (
    CLIENT_PROFITABILITY,
    FORECASTS,
    LICENSE_UTILIZATION,
    TRENDS,
    MartSpec,
)
from api.mart_queries import build_query, read_page
from api.periods import default_month_to
from api.problems import ProblemError, invalid_parameter, not_found, problem_responses
from api.routers.marts import _MONTH_PATTERN
from api.schemas import MartPage
from api.security import Authorize, set_audit_target

# The renderers (`pdf`, `qbr_pdf`, `xlsx`: ReportLab and openpyxl) are imported by the handler
# that renders, so the API starts without them (about 0.3 s) and a server that never renders a
# report never loads them.
from moatmetrics.reports import formatting, model, qbr
from moatmetrics.seam.base import SnapshotLease
from moatmetrics.settings import COMPANY_LOGO_ENV, LogoError, Settings, read_logo

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
# Scoped (`api.client_scope`): a client-scoped key's reports cover its clients only.
READ = Depends(Authorize("viewer", "reports.read", scoped=True))
PARAMS = Depends(only_query_params("format", "client_id", "month_from", "month_to", "audience"))
log = logging.getLogger(__name__)

Format = Literal["pdf", "xlsx"]
Audience = Literal["internal", "client"]
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_ROWS: dict[str, int] = {"pdf": model.MAX_PDF_ROWS, "xlsx": model.MAX_XLSX_ROWS}
MAX_CLIENTS = 200


@dataclass(frozen=True)
class ReportParams:
    format: Format
    client_ids: tuple[str, ...]
    month_from: str | None
    month_to: str | None
    audience: Audience = "internal"


def report_params(
    snapshot: CurrentSnapshot,  # the request's one lease, shared with the handler
    scope: ScopedClients,
    format: Annotated[
        Format, Query(description="`pdf` for reading and printing, `xlsx` for working on it.")
    ] = "pdf",
    client_id: Annotated[
        list[str] | None,
        Query(
            description="Only these clients (repeat the parameter for several); all clients "
            "when absent. An id no mart knows is a 404.",
            max_length=MAX_CLIENTS,
        ),
    ] = None,
    month_from: Annotated[
        str | None,
        Query(
            pattern=_MONTH_PATTERN,
            description="First month: YYYY-MM or YYYY-MM-DD (that day's month).",
            examples=["2024-01"],
        ),
    ] = None,
    month_to: Annotated[
        str | None,
        Query(pattern=_MONTH_PATTERN, description="Last month (inclusive).", examples=["2024-03"]),
    ] = None,
    audience: Annotated[
        Audience,
        Query(
            description="`internal` (default): the MSP's version with margins, costs and "
            "confidence. `client`: the client's QBR to hand over (one client_id, PDF): its "
            "services, usage, licenses with renewal dates and recommendations, charts, the "
            "MSP's name and logo; no margin, cost or other client."
        ),
    ] = "internal",
) -> ReportParams:
    clients = tuple(dict.fromkeys(c.strip() for c in client_id or ()))
    if any(not c for c in clients):
        raise invalid_parameter("client_id", "must not be empty; leave it out for all clients")
    if scope is not None:
        outside = [c for c in clients if c not in scope]
        if outside:  # the same answer whether or not the client exists
            raise not_found(f"Client {outside[0]!r} among this key's clients")
        clients = clients or tuple(sorted(scope))
    if audience == "client" and len(clients) != 1:
        raise invalid_parameter(
            "client_id", "audience=client is one client's QBR: give exactly one client_id"
        )
    if audience == "client" and format != "pdf":
        raise invalid_parameter(
            "format", "audience=client is a PDF (the client's QBR): use format=pdf"
        )
    month_to = default_month_to(snapshot, month_to)  # not half a month (api/periods.py)
    return ReportParams(format, clients, month_from, month_to, audience)


Params = Annotated[ReportParams, Depends(report_params)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _route(summary: str, description: str) -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "summary": summary,
        "description": description,
        "response_class": Response,
        "responses": {
            200: {
                "description": "The report as a file download (Content-Disposition: attachment)"
                " named after the report, snapshot, clients and months.",
                "content": {media: binary for media in MEDIA_TYPES.values()},
            },
            **problem_responses(404, 422, 503),
        },
        "dependencies": [READ, PARAMS],
    }


def _read(
    spec: MartSpec,
    lease: SnapshotLease,
    client_ids: Sequence[str],
    month_from: str | None,
    month_to: str | None,
    limit: int,
    sort: str | None = None,
) -> MartPage:
    """One read of a mart, validated and typed exactly like a /api/v1/marts page."""
    query = build_query(
        spec, {"client_id": list(client_ids) or None}, month_from, month_to, sort, limit, 0
    )
    return read_page(spec, lease, query)


def _rows(page: MartPage, limit: int, what: str, params: ReportParams) -> list[dict[str, Any]]:
    if page.total > limit:
        raise ProblemError(
            422,
            "report-too-large",
            "Report too large",
            f"The report would have {page.total:,} {what}; a {params.format.upper()} report holds"
            f" at most {limit:,}. Narrow it with client_id or month_from/month_to"
            + (", or ask for format=xlsx." if params.format == "pdf" else "."),
        )
    return [row.model_dump() for row in page.rows]


def _known_names(lease: SnapshotLease, client_ids: Sequence[str]) -> dict[str, str | None]:
    """Names of requested clients absent from a report's rows; 404 for ids no mart knows."""
    names: dict[str, str | None] = {}
    for client_id in client_ids:
        profitability = _read(CLIENT_PROFITABILITY, lease, [client_id], None, None, 1, "-month")
        if profitability.rows:
            names[client_id] = profitability.rows[0].client_name
        elif not _read(LICENSE_UTILIZATION, lease, [client_id], None, None, 0).total:
            raise ProblemError(
                404,
                "unknown-client",
                "Unknown client",
                f"No client {client_id!r} in snapshot {lease.snapshot.snapshot_id}: it has no "
                "client profitability or license rows. GET /api/v1/marts/client_profitability "
                "lists the client ids.",
            )
    return names


def _context(params: ReportParams, lease: SnapshotLease, settings: Settings) -> model.ReportContext:
    # build_query parses and checks the months (422) exactly as for the marts.
    months = build_query(CLIENT_PROFITABILITY, {}, params.month_from, params.month_to, None, 0, 0)
    return model.ReportContext(
        snapshot_id=lease.snapshot.snapshot_id,
        generated_at=datetime.now(UTC),
        currency=settings.reporting_currency,
        review_threshold=settings.review_threshold,
        client_ids=params.client_ids,
        month_from=months.month_from,
        month_to=months.month_to,
    )


def _file(
    kind: str, params: ReportParams, context: model.ReportContext, renderers: Mapping[str, Any]
) -> Response:
    render: Callable[[], bytes] = renderers[params.format]
    name = formatting.filename(
        kind,
        context.snapshot_id,
        context.client_ids,
        context.month_from,
        context.month_to,
        params.format,
    )
    return Response(
        render(),
        media_type=MEDIA_TYPES[params.format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Snapshot-Id": context.snapshot_id,
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/client-profitability",
    **_route(
        "Client profitability report (PDF or XLSX)",
        "Per client and month: revenue, total cost, gross profit, gross margin, effective "
        "hourly rate, confidence, the needs-review flag and the explanation, with totals per "
        "client and for the report. Read from the current snapshot's "
        "marts.client_profitability with the same filters as "
        "GET /api/v1/marts/client_profitability. A PDF holds at most "
        f"{model.MAX_PDF_ROWS:,} client-months, an XLSX {model.MAX_XLSX_ROWS:,} (else 422).",
    ),
)
def client_profitability(
    request: Request, params: Params, snapshot: CurrentSnapshot, settings: AppSettings
) -> Response:
    set_audit_target(
        request, "reports/client-profitability", format=params.format, audience=params.audience
    )
    if params.audience == "client":
        return _client_qbr(params, snapshot, settings)
    context = _context(params, snapshot, settings)
    limit = MAX_ROWS[params.format]
    page = _read(
        CLIENT_PROFITABILITY,
        snapshot,
        params.client_ids,
        params.month_from,
        params.month_to,
        limit,
    )
    rows = _rows(page, limit, "client-months", params)
    present = {row["client_id"] for row in rows}
    names = _known_names(snapshot, [c for c in params.client_ids if c not in present])
    report = model.profitability_report(context, rows, names)
    from moatmetrics.reports import pdf, xlsx

    renderers = {
        "pdf": lambda: pdf.profitability_pdf(report),
        "xlsx": lambda: xlsx.profitability_xlsx(report),
    }
    return _file("client-profitability", params, context, renderers)


@router.get(
    "/license-savings",
    **_route(
        "License savings report (PDF or XLSX)",
        "Per client, vendor and product: unused seats, monthly waste, unbilled seats, monthly "
        "leakage, monthly savings (waste + leakage), the recommendation and confidence, largest "
        "savings first, with totals. Seats are counted in the latest month with license data "
        "in the period asked (the licenses as they stand), read from "
        "marts.license_utilization like GET /api/v1/marts/license_utilization.",
    ),
)
def license_savings(
    request: Request, params: Params, snapshot: CurrentSnapshot, settings: AppSettings
) -> Response:
    set_audit_target(
        request, "reports/license-savings", format=params.format, audience=params.audience
    )
    if params.audience == "client":
        return _client_qbr(params, snapshot, settings)
    context = _context(params, snapshot, settings)
    limit = MAX_ROWS[params.format]
    latest = _read(
        LICENSE_UTILIZATION,
        snapshot,
        params.client_ids,
        params.month_from,
        params.month_to,
        1,
        "-month",
    )
    month = latest.rows[0].month if latest.rows else None
    rows = _latest_licenses(snapshot, params, month, limit)
    names = _license_client_names(snapshot, rows, month, limit)
    present = {row["client_id"] for row in rows}
    _known_names(snapshot, [c for c in params.client_ids if c not in present])
    report = model.license_savings_report(context, month, rows, names)
    from moatmetrics.reports import pdf, xlsx

    renderers = {
        "pdf": lambda: pdf.license_savings_pdf(report),
        "xlsx": lambda: xlsx.license_savings_xlsx(report),
    }
    return _file("license-savings", params, context, renderers)


def _latest_licenses(
    lease: SnapshotLease, params: ReportParams, month: date | None, limit: int
) -> list[dict[str, Any]]:
    """The license rows of the month the seats are counted in (none without a month)."""
    if month is None:
        return []
    day = month.isoformat()
    page = _read(LICENSE_UTILIZATION, lease, params.client_ids, day, day, limit)
    return _rows(page, limit, "products", params)


def _license_client_names(
    lease: SnapshotLease, rows: Sequence[Mapping[str, Any]], month: date | None, limit: int
) -> dict[str, str | None]:
    """Client names for license rows: the license mart has none, client_profitability has.

    The same month's profitability rows name most clients; a client without one that month
    (licenses, but no invoice or hours) is named by its latest profitability row.
    """
    ids = sorted({row["client_id"] for row in rows})
    if not ids or month is None:
        return {}
    day = month.isoformat()
    named = _read(CLIENT_PROFITABILITY, lease, ids, day, day, limit)
    names = {row.client_id: row.client_name for row in named.rows}
    for client_id in (c for c in ids if not names.get(c)):
        latest = _read(CLIENT_PROFITABILITY, lease, [client_id], None, None, 1, "-month")
        names[client_id] = latest.rows[0].client_name if latest.rows else None
    return names


def _branding(settings: Settings) -> qbr.Branding:
    """The MSP's name and logo for the client's QBR; the logo file is read now (it may have
    changed since startup), and a file that cannot be printed is a 503 naming the fix."""
    from moatmetrics.reports import qbr_pdf

    logo = None
    if settings.company_logo is not None:
        try:
            logo = read_logo(settings.company_logo)
            qbr_pdf.logo_flowable(logo)  # decodes it: a broken image fails here, not mid-PDF
        except (LogoError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, LogoError) else str(exc)
            log.error("client QBR refused: %s=%s: %s", COMPANY_LOGO_ENV, settings.company_logo,
                      reason)  # fmt: skip
            raise ProblemError(
                503,
                "company-logo-unusable",
                "Company logo cannot be printed",
                f"The company logo ({COMPANY_LOGO_ENV}) cannot be printed: {reason}. An "
                "administrator must fix or unset the setting (docs/reports.md); the server "
                "log names the file.",
            ) from None
    return qbr.Branding(settings.company_name, logo)


def _client_qbr(params: ReportParams, lease: SnapshotLease, settings: Settings) -> Response:
    """The client's QBR: that one client's rows only, through the same reads as the marts."""
    context = _context(params, lease, settings)
    branding = _branding(settings)
    limit = MAX_ROWS["pdf"]
    page = _read(
        CLIENT_PROFITABILITY, lease, params.client_ids, params.month_from, params.month_to, limit
    )
    rows = _rows(page, limit, "client-months", params)
    latest = _read(
        LICENSE_UTILIZATION,
        lease,
        params.client_ids,
        params.month_from,
        params.month_to,
        1,
        "-month",
    )
    month = latest.rows[0].month if latest.rows else None
    licenses = _latest_licenses(lease, params, month, limit)
    (client_id,) = params.client_ids
    if rows:
        name = rows[-1]["client_name"]
    else:  # 404 for an id no mart knows
        name = _known_names(lease, [client_id]).get(client_id)
        name = name or _license_client_names(lease, licenses, month, limit).get(client_id)
    trends, forecasts = _client_outlook(lease, client_id, rows[-1]["month"] if rows else None)
    report = qbr.client_qbr(
        context, branding, client_id, name, rows, month, licenses, trends, forecasts
    )
    from moatmetrics.reports import qbr_pdf

    return _file("client-qbr", params, context, {"pdf": lambda: qbr_pdf.client_qbr_pdf(report)})


def _client_outlook(
    lease: SnapshotLease, client_id: str, last_month: date | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The client's revenue and labour-hour trend rows of the report's last month and its
    forecast rows (none from a snapshot published before those marts existed)."""
    series = {"client_id": [client_id], "entity_type": ["client"]}
    metrics = {"metric": ["revenue", "labor_hours"]}
    trends: list[dict[str, Any]] = []
    if TRENDS.name in lease.tables and last_month is not None:
        shown = last_month.isoformat()
        query = build_query(TRENDS, {**series, **metrics}, shown, shown, "metric", 10, 0)
        trends = [row.model_dump() for row in read_page(TRENDS, lease, query).rows]
    forecasts: list[dict[str, Any]] = []
    if FORECASTS.name in lease.tables:
        query = build_query(FORECASTS, {**series, **metrics}, None, None, "forecast_month", 10, 0)
        forecasts = [row.model_dump() for row in read_page(FORECASTS, lease, query).rows]
    return trends, forecasts
