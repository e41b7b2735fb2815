"""Saved what-if scenarios: named lists of changes everyone who may read scenarios shares.

The changes are stored as canonical JSON, as the API validated them
(`api.scenario_schemas`); evaluating one reads the current snapshot, so a saved scenario
always answers for the newest data. Saving and deleting are audited in the same transaction
(`scenarios.create`, `scenarios.delete`, with the name and the changes).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.models import Scenario, utcnow
from moatmetrics.canonical import canonical_json


def create(
    session: Session, actor: audit.Actor, name: str, description: str | None,
    changes: list[dict[str, Any]],
) -> Scenario:  # fmt: skip
    """Store a scenario and its audit entry (one transaction)."""
    scenario = Scenario(
        name=name.strip(),
        description=description,
        changes_json=canonical_json(changes),
        created_by=actor.name,
    )
    session.add(scenario)
    session.flush()
    audit.append(
        session, actor, "scenarios.create", "ok", target=f"scenarios/{scenario.id}",
        details={"name": scenario.name, "changes": changes},
    )  # fmt: skip
    return scenario


def changes_of(scenario: Scenario) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = json.loads(scenario.changes_json)
    return changes


def get(session: Session, scenario_id: int) -> Scenario | None:
    """A scenario that is not deleted, or None."""
    found = session.get(Scenario, scenario_id)
    return found if found is not None and found.deleted_at is None else None


def list_scenarios(session: Session, limit: int, offset: int) -> tuple[int, list[Scenario]]:
    """Scenarios not deleted, newest first, and how many there are."""
    query = select(Scenario).where(Scenario.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Scenario.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


def delete(session: Session, actor: audit.Actor, scenario_id: int) -> Scenario:
    """Mark a scenario deleted (audited); LookupError when there is none to delete."""
    scenario = get(session, scenario_id)
    if scenario is None:
        raise LookupError(scenario_id)
    scenario.deleted_at = utcnow()
    scenario.deleted_by = actor.name
    audit.append(
        session, actor, "scenarios.delete", "ok", target=f"scenarios/{scenario_id}",
        details={"name": scenario.name, "changes": changes_of(scenario)},
    )  # fmt: skip
    return scenario
