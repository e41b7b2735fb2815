"""What-if scenarios over real HTTP on a published snapshot (both back ends): the acceptance
sums against the license mart the API serves, 0 % changing nothing, saving, sharing and
deleting with their audit entries, the role rules and refusals that name the reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

FEB = "2024-02"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, start_server, publish_generation):
    home = tmp_path_factory.mktemp("home-scenarios")
    publish_generation(home, 1)
    return start_server(home)


def _measures(items: list[dict[str, Any]]) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    def number(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return {m["name"]: (number(m["today"]), number(m["scenario"])) for m in items}


def test_reclaiming_and_billing_everything_saves_what_the_license_mart_shows(server) -> None:
    with server.client("viewer") as viewer:
        licenses = viewer.get(
            "/api/v1/marts/license_utilization",
            params={"month_from": FEB, "month_to": FEB, "limit": 1000},
        ).json(parse_float=Decimal)["rows"]
        answer = viewer.post(
            "/api/v1/scenarios/evaluate",
            json={"month": FEB, "changes": [{"kind": "reclaim_unused_seats"},
                                            {"kind": "bill_unbilled_seats"}]},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    result = answer.json(parse_float=Decimal)
    assert result["month"] == "2024-02-01"
    waste = sum(Decimal(str(r["monthly_waste"])) for r in licenses)
    leakage = sum(Decimal(str(r["monthly_leakage"] or 0)) for r in licenses)
    assert waste > 0 and leakage > 0
    totals = _measures(result["portfolio"])
    assert totals["monthly_waste"] == (waste, Decimal("0.00"))
    assert totals["monthly_leakage"] == (leakage, Decimal("0.00"))
    revenue_today, revenue_then = totals["revenue"]
    cost_today, cost_then = totals["total_cost"]
    assert revenue_then - revenue_today == leakage and cost_today - cost_then == waste
    changed = {r["client_id"] for r in licenses if r["monthly_waste"] or r["monthly_leakage"]}
    assert {c["key"] for c in result["clients"]} == changed


def test_a_zero_price_change_changes_nothing(server) -> None:
    with server.client("viewer") as viewer:
        answer = viewer.post(
            "/api/v1/scenarios/evaluate",
            json={"changes": [{"kind": "price", "client_id": "C1", "percent": 0}]},
        )
    assert answer.status_code == 200, answer.text
    result = answer.json(parse_float=Decimal)
    assert result["clients"] == [] and result["staff"] == []
    assert all(m["today"] == m["scenario"] for m in result["portfolio"]), result["portfolio"]
    assert all(m["change"] in (0, None) for m in result["portfolio"])


def test_a_saved_scenario_is_shared_evaluated_deleted_and_audited(server) -> None:
    changes = [{"kind": "price", "client_id": "C1", "percent": "5"},
               {"kind": "reclaim_unused_seats", "vendor": "Microsoft"}]  # fmt: skip
    with server.client("analyst") as analyst, server.client("viewer") as viewer, \
            server.client("admin") as admin:  # fmt: skip
        refused = viewer.post("/api/v1/scenarios", json={"name": "Acme +5%", "changes": changes})
        assert refused.status_code == 403
        created = analyst.post(
            "/api/v1/scenarios",
            json={"name": "Acme +5%", "description": "before the QBR", "changes": changes},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        scenario_id = body["id"]
        assert body["created_by"] and body["changes"][0]["percent"] == 5
        listed = viewer.get("/api/v1/scenarios").json()
        assert [s["id"] for s in listed["items"]] == [scenario_id] and listed["total"] == 1
        detail = viewer.get(f"/api/v1/scenarios/{scenario_id}").json(parse_float=Decimal)
        acme = next(c for c in detail["result"]["clients"] if c["key"] == "C1")
        revenue = _measures(acme["measures"])["revenue"]
        assert revenue[1] == (revenue[0] * Decimal("1.05")).quantize(Decimal("0.01"))
        assert viewer.delete(f"/api/v1/scenarios/{scenario_id}").status_code == 403
        assert analyst.delete(f"/api/v1/scenarios/{scenario_id}").status_code == 200
        assert viewer.get(f"/api/v1/scenarios/{scenario_id}").status_code == 404
        assert viewer.get("/api/v1/scenarios").json()["total"] == 0
        entries = admin.get("/api/v1/audit", params={"action": "scenarios."}).json()["entries"]
    done = {(e["action"], e["target"]) for e in entries}
    assert ("scenarios.create", f"scenarios/{scenario_id}") in done
    assert ("scenarios.delete", f"scenarios/{scenario_id}") in done


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "price", "client_id": "C9", "percent": 5}, "client 'C9' has no row"),
        ({"kind": "price", "client_id": "C1", "percent": -100}, "greater than -100"),
        ({"kind": "move_hours", "from_staff_id": "S1", "to_staff_id": "S9", "hours": 999},
         "cannot move"),
        ({"kind": "fire_everyone"}, "kind"),
    ],
)  # fmt: skip
def test_a_change_that_cannot_apply_is_refused_naming_why(server, change, words) -> None:
    with server.client("viewer") as viewer:
        answer = viewer.post("/api/v1/scenarios/evaluate", json={"month": FEB, "changes": [change]})
    assert answer.status_code == 422
    assert words in answer.text


def test_scenarios_need_a_key(server) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/api/v1/scenarios").status_code == 401
        answer = anonymous.post("/api/v1/scenarios/evaluate", json={"changes": []})
        assert answer.status_code == 401
