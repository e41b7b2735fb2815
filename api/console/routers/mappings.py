"""Mapping tables: the client aliases, product map and account map in force, editable.

Mapping tables are uploads (docs/data-contract.md "Mapping uploads"), so this page adds no
second store: it lists the rows the last publish used (`moatmetrics.appdb.mappings`, copied
there after every publish, so the page never waits for the warehouse a running pipeline
holds), and a row typed here lands as a one-row upload through the one intake
(`api.mapping_uploads`, as an identity confirmation does): audited, on the uploads page,
applied by the run it requests. Withdrawing a row written here retracts its upload through the
uploads page's own retract route, which brings back the row it replaced; a row from a file is
withdrawn by retracting or re-uploading that file.

The tables name every client's vendor keys, so, like the uploads page, the page is for
unscoped callers only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.session import require_csrf
from api.console.templating import render
from api.dependencies import get_settings
from api.mapping_uploads import MappingRefused, land_mapping_row, mapping_columns
from api.problems import ProblemError
from api.security import Authorize, actor_of, mark_audited
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.mappings import mappings_in_force, snapshot_of_mappings
from moatmetrics.contract.entities import INVOICE_CATEGORIES, MAPPING_KEYS
from moatmetrics.settings import Settings
from moatmetrics.sources.profiles import FAMILIES

router = APIRouter(prefix="/console/mappings", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("viewer", "mappings.read"))]
Writer = Annotated[Principal, Depends(Authorize("analyst", "uploads.create"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
Entity = Literal["client_aliases", "product_map", "account_map"]
Text = Annotated[str, Form(max_length=400)]

#: What each table is for, in the words the page shows.
PURPOSES = {
    "client_aliases": "Which client a vendor's key names (a ConnectWise company identifier, a"
    " Xero contact, a Microsoft 365 domain); client id - means your own company.",
    "product_map": "One product identity for a vendor's item code or name (a PSA addition's"
    " product, say), so billed seats join the seats bought and used.",
    "account_map": "The invoice category of an accounting account code or item name;"
    " unmapped lines count as other, never as recurring revenue.",
}


def _page(
    request: Request, principal: Principal, settings: Settings, *, error: str | None = None,
    entity: str | None = None, form: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with session_scope(settings) as session:
        tables = mappings_in_force(session)
        snapshot_id = snapshot_of_mappings(session)
    saved = request.query_params.get("saved")
    return render(
        request, "mappings.html", status_code=status_code, tables=tables,
        columns={e: mapping_columns(e) for e in MAPPING_KEYS}, purposes=PURPOSES,
        families=FAMILIES, categories=INVOICE_CATEGORIES, snapshot_id=snapshot_id,
        can_edit=principal.has_role("analyst"), error=error, error_entity=entity,
        form=form or {}, saved=saved if saved and saved.isdigit() else None,
    )  # fmt: skip


@router.get("")
def mappings_page(request: Request, principal: Reader, settings: AppSettings) -> HTMLResponse:
    return _page(request, principal, settings)


@router.post("/{entity}", dependencies=[Depends(require_csrf)])
def save_mapping_row(
    entity: Entity,
    request: Request,
    principal: Writer,
    settings: AppSettings,
    source: Text = "",
    source_key: Text = "",
    client_id: Text = "",
    source_product: Text = "",
    vendor: Text = "",
    product: Text = "",
    account: Text = "",
    category: Text = "",
) -> Response:
    """Add a row, or replace the row of the same source and key: a one-row upload."""
    typed = {
        "source": source, "source_key": source_key, "client_id": client_id,
        "source_product": source_product, "vendor": vendor, "product": product,
        "account": account, "category": category,
    }  # fmt: skip
    values: dict[str, str | None] = {c: typed[c] for c in mapping_columns(entity)}
    try:
        taken = land_mapping_row(
            settings, actor_of(request, principal), entity, values, f"{entity}_console.csv"
        )
    except MappingRefused as exc:
        return _page(
            request, principal, settings, error=str(exc), entity=entity,
            form={k: v or "" for k, v in values.items()}, status_code=422,
        )  # fmt: skip
    except ProblemError as exc:
        problem = exc.problem
        return _page(
            request, principal, settings, error=f"{problem.title}: {problem.detail}",
            entity=entity, form={k: v or "" for k, v in values.items()},
            status_code=problem.status,
        )  # fmt: skip
    mark_audited(request)
    return RedirectResponse(f"/console/mappings?saved={taken.upload.id}", status_code=303)
