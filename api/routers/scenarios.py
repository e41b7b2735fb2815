"""What-if scenarios: try changes on the current snapshot's marts; save, share and delete them.

Evaluating writes nothing (`moatmetrics.insights.scenarios` computes from one month of the
marts, read by `api.scenario_reads`); saved scenarios live in the app database
(`moatmetrics.appdb.scenarios`, audited). Scenarios span the portfolio, so a client-scoped key
is refused (403) on every route here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import TypeAdapter

from api.dependencies import CurrentSnapshot, get_settings
from api.problems import not_found, problem_responses, unprocessable
from api.scenario_reads import month_marts, scenario_month
from api.scenario_schemas import (
    ChangeIn,
    ScenarioDetail,
    ScenarioEvaluate,
    ScenarioIn,
    ScenarioList,
    ScenarioOut,
    ScenarioResultOut,
    result_out,
    to_core,
)
from api.security import Authorize, actor_of, mark_audited, set_audit_target
from moatmetrics.appdb import scenarios as saved
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import Scenario
from moatmetrics.insights.scenarios import MonthMarts, ScenarioRefused, evaluate
from moatmetrics.seam.base import SnapshotLease
from moatmetrics.settings import Settings

router = APIRouter(prefix="/api/v1/scenarios", tags=["scenarios"])
# `{scenario_id:int}` routes: "evaluate" must not match them, or a 405 on it would advertise
# their methods too.

Evaluator = Annotated[Principal, Depends(Authorize("viewer", "scenarios.evaluate"))]
Reader = Annotated[Principal, Depends(Authorize("viewer", "scenarios.read"))]
Writer = Annotated[Principal, Depends(Authorize("analyst", "scenarios.create"))]
Deleter = Annotated[Principal, Depends(Authorize("analyst", "scenarios.delete"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
ScenarioId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The scenario's id.")]
_CHANGES = TypeAdapter(list[ChangeIn])


def evaluate_scenario(
    lease: SnapshotLease, changes: list[ChangeIn], month: str | None
) -> ScenarioResultOut:
    """The scenario's numbers on the month's marts read from the snapshot."""
    marts = month_marts(lease, scenario_month(lease, month))
    return evaluate_on(marts, changes, lease.snapshot.snapshot_id)


def evaluate_on(marts: MonthMarts, changes: list[ChangeIn], snapshot_id: str) -> ScenarioResultOut:
    """The scenario's numbers on marts already read (the API's and the console's one way);
    422 when it cannot apply."""
    try:
        result = evaluate(marts, to_core(changes))
    except ScenarioRefused as exc:
        raise unprocessable("invalid-scenario", "Invalid scenario", str(exc)) from None
    return result_out(result, snapshot_id)


def _out(scenario: Scenario) -> ScenarioOut:
    return ScenarioOut(
        id=scenario.id,
        name=scenario.name,
        description=scenario.description,
        changes=_CHANGES.validate_python(saved.changes_of(scenario)),
        created_by=scenario.created_by,
        created_at=scenario.created_at,
    )


@router.post(
    "/evaluate", response_model=ScenarioResultOut,
    summary="The marts' numbers under a list of changes, beside today's (nothing is written)",
    responses=problem_responses(422, 503),
)  # fmt: skip
def evaluate_changes(
    body: ScenarioEvaluate, principal: Evaluator, snapshot: CurrentSnapshot
) -> ScenarioResultOut:
    return evaluate_scenario(snapshot, body.changes, body.month)


@router.get(
    "", response_model=ScenarioList, summary="Saved scenarios, newest first",
    responses=problem_responses(422),
)  # fmt: skip
def list_saved(
    principal: Reader,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> ScenarioList:
    with session_scope(settings) as session:
        total, rows = saved.list_scenarios(session, limit, offset)
        return ScenarioList(total=total, items=[_out(s) for s in rows])


@router.post(
    "", response_model=ScenarioDetail, status_code=201,
    summary="Save a named scenario (shared, audited) and evaluate it",
    responses=problem_responses(422, 503),
)  # fmt: skip
def save(
    body: ScenarioIn, request: Request, principal: Writer, settings: AppSettings,
    snapshot: CurrentSnapshot,
) -> ScenarioDetail:  # fmt: skip
    return save_scenario(request, principal, settings, snapshot, body)


def save_scenario(
    request: Request, principal: Principal, settings: Settings, lease: SnapshotLease,
    body: ScenarioIn,
) -> ScenarioDetail:  # fmt: skip
    """Save a scenario after checking it applies (the API's and the console's one way)."""
    result = evaluate_scenario(lease, body.changes, None)  # one that cannot apply is not saved
    changes = [c.model_dump(mode="json") for c in body.changes]
    with session_scope(settings, write=True) as session:
        created = saved.create(
            session, actor_of(request, principal), body.name, body.description, changes
        )
        out = _out(created)
    mark_audited(request)
    return ScenarioDetail(**out.model_dump(), result=result)


@router.get(
    "/{scenario_id:int}", response_model=ScenarioDetail,
    summary="A saved scenario, evaluated on the last complete month of the current snapshot",
    responses=problem_responses(404, 422, 503),
)  # fmt: skip
def get_saved(
    scenario_id: ScenarioId, request: Request, principal: Reader, settings: AppSettings,
    snapshot: CurrentSnapshot,
) -> ScenarioDetail:  # fmt: skip
    set_audit_target(request, f"scenarios/{scenario_id}")
    out = saved_scenario(settings, scenario_id)
    return ScenarioDetail(**out.model_dump(), result=evaluate_scenario(snapshot, out.changes, None))


def saved_scenario(settings: Settings, scenario_id: int) -> ScenarioOut:
    """A saved scenario as stored, not evaluated (404 when there is none)."""
    with session_scope(settings) as session:
        found = saved.get(session, scenario_id)
        if found is None:
            raise not_found(f"Scenario {scenario_id}")
        return _out(found)


@router.delete(
    "/{scenario_id:int}", response_model=ScenarioOut, summary="Delete a saved scenario (audited)",
    responses=problem_responses(404, 422),
)  # fmt: skip
def delete_saved(
    scenario_id: ScenarioId, request: Request, principal: Deleter, settings: AppSettings
) -> ScenarioOut:
    try:
        with session_scope(settings, write=True) as session:
            out = _out(saved.delete(session, actor_of(request, principal), scenario_id))
    except LookupError:
        raise not_found(f"Scenario {scenario_id}") from None
    mark_audited(request)
    return out
