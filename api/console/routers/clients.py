"""Clients: the list of one month (sortable, searchable, by GET parameters), and one client's
profitability, licenses and churn risk up to that month, with report downloads."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api import client_scope, periods
from api.client_scope import ScopedClients
from api.console import data, wording
from api.console.charts import Series, line_chart
from api.console.routers.overview import MonthParam
from api.console.templating import money, render
from api.console.templating import month as month_label
from api.dependencies import CurrentSnapshot
from api.problems import not_found
from api.security import Authorize, set_audit_target

router = APIRouter(prefix="/console/clients", include_in_schema=False)

ClientId = Annotated[str, Path(min_length=1, max_length=255)]
SortParam = Annotated[str | None, Query(max_length=20)]
SearchParam = Annotated[str | None, Query(max_length=data.MAX_SEARCH)]

#: Columns of the client list: (sort key, header, numeric).
COLUMNS = (
    ("name", "Client", False),
    ("revenue", "Revenue", True),
    ("profit", "Gross profit", True),
    ("margin", "Margin", True),
    ("confidence", "Confidence", True),
    ("risk", "Churn risk", True),
)


def _headers(base: dict[str, str], key: str, descending: bool) -> list[dict[str, object]]:
    """Each column header's link (sorting by it, the reverse when it already sorts) and its
    aria-sort state."""
    headers = []
    for column, label, numeric in COLUMNS:
        active = column == key
        # Numbers sort largest first on the first click, names A to Z.
        first = f"-{column}" if numeric else column
        target = (column if descending else f"-{column}") if active else first
        headers.append(
            {
                "label": label,
                "numeric": numeric,
                "href": "?" + urlencode({**base, "sort": target}),
                "aria_sort": ("descending" if descending else "ascending") if active else None,
            }
        )
    return headers


@router.get("", dependencies=[Depends(Authorize("viewer", "console.clients", scoped=True))])
def client_list(
    request: Request,
    scope: ScopedClients,
    snapshot: CurrentSnapshot,
    month: MonthParam = None,
    sort: SortParam = None,
    q: SearchParam = None,
) -> HTMLResponse:
    months = periods.data_months(snapshot)
    shown = periods.selected_month(months, month)
    key, descending = data.client_sort(sort)
    listed = data.clients(snapshot, shown, sort, q) if shown else []
    clients = [row for row in listed if client_scope.allows(scope, row["client_id"])]
    month_key = shown.strftime("%Y-%m") if shown else ""
    base = {name: value for name, value in (("month", month_key), ("q", q or "")) if value}
    return render(
        request,
        "clients.html",
        clients=clients,
        snapshot_id=snapshot.snapshot.snapshot_id,
        months=months,
        selected=shown,
        month_key=month_key,
        month_note=periods.partial_note(months, shown),
        keep={"q": q or "", "sort": sort or ""},
        search=q or "",
        sort=sort or "",
        headers=_headers(base, key, descending),
    )


@router.get(
    "/{client_id}", dependencies=[Depends(Authorize("viewer", "console.client", scoped=True))]
)
def client_page(
    client_id: ClientId,
    request: Request,
    snapshot: CurrentSnapshot,
    scope: ScopedClients,
    month: MonthParam = None,
) -> HTMLResponse:
    set_audit_target(request, f"console/clients/{client_id}")
    if not client_scope.allows(scope, client_id):  # same 404 as a client that does not exist
        raise not_found(f"Client {client_id} in the current snapshot")
    months = periods.data_months(snapshot)
    shown = periods.selected_month(months, month)
    view = data.client(snapshot, client_id, shown)
    if view is None:
        raise not_found(f"Client {client_id} in the current snapshot")
    labels = [month_label(row.month) for row in view.months]
    chart = line_chart(
        f"Gross profit of {view.client_name or client_id} by month",
        labels,
        [Series("Gross profit", [float(row.gross_profit) for row in view.months])],
        money,
    )
    return render(
        request,
        "client.html",
        view=view,
        chart=chart,
        snapshot_id=snapshot.snapshot.snapshot_id,
        months=months,
        selected=shown,
        month_note=periods.partial_note(months, shown),
        actions={(lic.vendor, lic.product): wording.recommendation(lic) for lic in view.licenses},
    )
