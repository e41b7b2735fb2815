"""Clients: the list of the latest month, and one client's profitability, licenses and churn
risk, with report downloads for that client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from api.console import data
from api.console.charts import Series, line_chart
from api.console.templating import money, month, render
from api.dependencies import CurrentSnapshot
from api.problems import not_found
from api.security import Authorize, set_audit_target

router = APIRouter(prefix="/console/clients", include_in_schema=False)

ClientId = Annotated[str, Path(min_length=1, max_length=255)]


@router.get("", dependencies=[Depends(Authorize("viewer", "console.clients"))])
def client_list(request: Request, snapshot: CurrentSnapshot) -> HTMLResponse:
    return render(
        request, "clients.html", clients=data.clients(snapshot),
        snapshot_id=snapshot.snapshot.snapshot_id,
    )  # fmt: skip


@router.get("/{client_id}", dependencies=[Depends(Authorize("viewer", "console.client"))])
def client_page(client_id: ClientId, request: Request, snapshot: CurrentSnapshot) -> HTMLResponse:
    set_audit_target(request, f"console/clients/{client_id}")
    view = data.client(snapshot, client_id)
    if view is None:
        raise not_found(f"Client {client_id} in the current snapshot")
    labels = [month(row.month) for row in view.months]
    chart = line_chart(
        f"Gross profit of {view.client_name or client_id} by month",
        labels,
        [Series("Gross profit", [float(row.gross_profit) for row in view.months])],
        money,
    )
    return render(
        request, "client.html", view=view, chart=chart, snapshot_id=snapshot.snapshot.snapshot_id
    )
