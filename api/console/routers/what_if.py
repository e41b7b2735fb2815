"""What-if: try changes on a month of the marts and see them beside today's numbers; analysts
save a scenario under a name for everyone to open.

The page evaluates through the API's own function (`api.routers.scenarios.evaluate_scenario`)
and saves through `save_scenario` (the same checks and audit entry as `POST
/api/v1/scenarios`); the form fields are read by `api.console.what_if`. Portfolio-wide, so a
client-scoped caller is refused (403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import periods
from api.console import what_if
from api.console.routers.overview import MonthParam
from api.console.session import require_csrf
from api.console.templating import render
from api.dependencies import CurrentSnapshot, get_settings
from api.problems import ProblemError
from api.routers.scenarios import evaluate_on, list_saved, save_scenario, saved_scenario
from api.scenario_reads import month_marts
from api.scenario_schemas import ScenarioIn, ScenarioResultOut
from api.security import Authorize, set_audit_target
from moatmetrics.appdb.keys import Principal
from moatmetrics.seam.base import SnapshotLease
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/what-if", include_in_schema=False)

Viewer = Annotated[Principal, Depends(Authorize("viewer", "console.what_if"))]
Writer = Annotated[Principal, Depends(Authorize("analyst", "scenarios.create"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
Field = Annotated[str, Form(max_length=255)]


def _page(
    request: Request, principal: Principal, settings: Settings, lease: SnapshotLease,
    month: str | None, form: dict[str, str], *, scenario_name: str | None = None,
    error: str | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    months = periods.data_months(lease)
    shown = periods.selected_month(months, month)
    marts = month_marts(lease, shown) if shown is not None else None  # read once: form and answer
    result: ScenarioResultOut | None = None
    if error is None and marts is not None:
        try:
            changes = what_if.changes_from_form(form)
            if changes:
                result = evaluate_on(marts, what_if.parse(changes), lease.snapshot.snapshot_id)
        except ValueError as exc:
            error, status_code = str(exc), 422
        except ProblemError as exc:
            error, status_code = exc.problem.detail, exc.problem.status
    saved = list_saved(principal, settings, 100, 0)
    return render(
        request, "what_if.html", status_code=status_code, form=form, result=result,
        error=error, saved=saved.items, scenario_name=scenario_name, months=months,
        selected=shown, month_key=shown.strftime("%Y-%m") if shown else "",
        month_note=periods.partial_note(months, shown), keep=form,
        choices=what_if.choices(marts) if marts is not None else None,
        measures=what_if.MEASURES, can_save=principal.has_role("analyst"),
        snapshot_id=lease.snapshot.snapshot_id,
    )  # fmt: skip


@router.get("")
def what_if_page(
    request: Request,
    principal: Viewer,
    settings: AppSettings,
    snapshot: CurrentSnapshot,
    month: MonthParam = None,
    scenario: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    if scenario is not None:  # a saved scenario: its changes in the form, evaluated below
        set_audit_target(request, f"scenarios/{scenario}")
        detail = saved_scenario(settings, scenario)
        form = what_if.form_of(detail.changes)
        return _page(request, principal, settings, snapshot, month, form,
                     scenario_name=detail.name)  # fmt: skip
    form = what_if.form_values(request.query_params)
    return _page(request, principal, settings, snapshot, month, form)


@router.post("", dependencies=[Depends(require_csrf)])
async def save(
    request: Request,
    principal: Writer,
    settings: AppSettings,
    snapshot: CurrentSnapshot,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    submitted = await request.form()
    form = what_if.form_values({k: str(v) for k, v in submitted.items() if isinstance(v, str)})
    try:
        if not name.strip():
            raise ValueError("a saved scenario needs a name; fix: type one next to Save")
        body = ScenarioIn(name=name.strip(), changes=what_if.parse(what_if.changes_from_form(form)))
        created = save_scenario(request, principal, settings, snapshot, body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        return _page(request, principal, settings, snapshot, None, form,
                     error=f"{problem['loc'][-1]}: {problem['msg']}", status_code=422)  # fmt: skip
    except ValueError as exc:
        return _page(request, principal, settings, snapshot, None, form, error=str(exc),
                     status_code=422)  # fmt: skip
    except ProblemError as exc:
        return _page(request, principal, settings, snapshot, None, form,
                     error=exc.problem.detail, status_code=exc.problem.status)  # fmt: skip
    return RedirectResponse(f"/console/what-if?scenario={created.id}", status_code=303)
