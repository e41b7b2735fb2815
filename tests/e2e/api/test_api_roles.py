"""The role matrix: every endpoint x {no key, revoked key, viewer, analyst, admin}.

The endpoints come from the app's own route table, so a new endpoint is in the matrix the
moment it exists: it must declare a role (or be one of the few public paths), its role must be
the one docs/api.md documents, and it is called with every kind of caller over real HTTP.
Endpoints that need a path value or a body get them from `RECIPES`; one without a recipe that
needs them fails here with a message saying so.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from checkout import REPO_ROOT

from api.main import create_app
from api.security import CONSOLE_PUBLIC_PATHS, PUBLIC_PATHS, RouteEntry, route_table
from moatmetrics.appdb import audit, keys, overrides, reviews, scenarios
from moatmetrics.appdb.db import session_scope

CALLERS = ("none", "revoked", "viewer", "analyst", "admin")
RANK = {"viewer": 0, "analyst": 1, "admin": 2}
_names = itertools.count()


@dataclass
class Recipe:
    """How to make a valid request to one endpoint, and the status it then documents."""

    success: int = 200
    path: dict[str, Any] = field(default_factory=dict)
    json: Callable[[], Any] | None = None
    files: Callable[[], Any] | None = None


RECIPES: dict[tuple[str, str], Recipe] = {
    ("GET", "/api/v1/marts/{name}"): Recipe(404, path={"name": "no_such_mart"}),
    ("POST", "/api/v1/uploads"): Recipe(
        202, files=lambda: {"file": ("clients.csv", b"client_id,client_name\nC9,Nine\n")}
    ),
    ("GET", "/api/v1/uploads/{upload_id}"): Recipe(path={"upload_id": "$upload"}),
    # The upload is still `received`: the role gate lets the caller through to a 409.
    ("POST", "/api/v1/uploads/{upload_id}/retract"): Recipe(
        409, path={"upload_id": "$upload"}, json=lambda: {"reason": "role matrix"}
    ),
    ("GET", "/api/v1/reviews/{item_id}"): Recipe(path={"item_id": "$item"}),
    ("POST", "/api/v1/reviews/{item_id}/decision"): Recipe(
        path={"item_id": "$item"}, json=lambda: {"decision": "approved"}
    ),
    # The item is a mart row, not a held client: the role gate lets the caller through to 422.
    ("POST", "/api/v1/reviews/{item_id}/client"): Recipe(
        422, path={"item_id": "$item"}, json=lambda: {"client_id": "C1"}
    ),
    ("POST", "/api/v1/keys"): Recipe(
        201, json=lambda: {"name": f"matrix-{next(_names)}", "role": "viewer"}
    ),
    ("POST", "/api/v1/keys/{key_id}/revoke"): Recipe(path={"key_id": "$victim"}),
    ("GET", "/api/v1/corrections/{override_id}"): Recipe(path={"override_id": "$correction"}),
    ("POST", "/api/v1/corrections"): Recipe(
        201,
        json=lambda: {
            "entity": "time_entries",
            "row_key": {"entry_id": f"T-matrix-{next(_names)}"},
            "action": "exclude",
            "reason": "role matrix",
        },  # fmt: skip
    ),
    ("POST", "/api/v1/corrections/{override_id}/revert"): Recipe(
        path={"override_id": "$correction"}
    ),
    ("POST", "/api/v1/scenarios/evaluate"): Recipe(
        json=lambda: {"changes": [{"kind": "reclaim_unused_seats"}]}
    ),
    ("POST", "/api/v1/scenarios"): Recipe(
        201,
        json=lambda: {
            "name": f"matrix-{next(_names)}",
            "changes": [{"kind": "bill_unbilled_seats"}],
        },  # fmt: skip
    ),
    ("GET", "/api/v1/scenarios/{scenario_id}"): Recipe(path={"scenario_id": "$scenario"}),
    # No such scenario: the role gate lets the caller through to 404.
    ("DELETE", "/api/v1/scenarios/{scenario_id}"): Recipe(404, path={"scenario_id": "999999"}),
}


def documented_roles() -> dict[tuple[str, str], str]:
    """The roles table of docs/api.md: | `METHOD path` | role | ... |."""
    text = (REPO_ROOT / "docs" / "api.md").read_text()
    rows = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| (\w+) \|", text, re.M)
    return {(method, path): role for method, path, role in rows}


@pytest.fixture(scope="module")
def matrix_server(
    tmp_path_factory: pytest.TempPathFactory, start_server, publish_generation, backend
):
    home = tmp_path_factory.mktemp("home-matrix")
    publish_generation(home, 1)
    server = start_server(home)
    settings = backend.settings(home)
    with session_scope(settings, write=True) as session:
        actor = audit.Actor("tests")
        revoked = keys.create_key(session, actor, "matrix-revoked", "admin")
        keys.revoke_key(session, actor, revoked[0].id)
        victim = keys.create_key(session, actor, "matrix-victim", "viewer")[0]
    server.keys["revoked"] = revoked[1]
    reviews.sync_review_items(
        "client_profitability",
        [{"row_key": "C1|2024-01-01", "row": {"client_id": "C1", "revenue": "1.00"}}],
        settings,
    )
    with server.client("admin") as http:
        upload = http.post("/api/v1/uploads", files=RECIPES[("POST", "/api/v1/uploads")].files())
        assert upload.status_code == 202, upload.text
    with session_scope(settings, write=True) as session:
        item_id = reviews.list_items(session, reviews.ReviewFilter(), 1, 0)[1][0].id
        correction = overrides.create(
            session, audit.Actor("tests"), "clients", {"client_id": "C1"}, "set", "industry",
            "Dental", "role matrix",
        )  # fmt: skip
        scenario = scenarios.create(
            session, audit.Actor("tests"), "role matrix", None, [{"kind": "reclaim_unused_seats"}]
        )
    values = {
        "$upload": upload.json()["id"], "$item": item_id, "$victim": victim.id,
        "$correction": correction.id, "$scenario": scenario.id,
    }  # fmt: skip
    return server, values


def _request(server, values: dict, entry: RouteEntry, method: str, caller: str) -> httpx.Response:
    path = entry.path
    recipe = RECIPES.get((method, path), Recipe())
    params = re.findall(r"{(\w+)}", path)
    missing = [p for p in params if p not in recipe.path]
    assert not missing, f"add a recipe for {method} {path}: values for {missing}"
    if entry.has_body:
        assert recipe.json or recipe.files, f"add a recipe (body) for {method} {path}"
    url = path.format(**{k: values.get(v, v) for k, v in recipe.path.items()})
    headers = {} if caller == "none" else {"Authorization": f"Bearer {server.keys[caller]}"}
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        return http.request(
            method,
            url,
            headers=headers,
            json=recipe.json() if recipe.json else None,
            files=recipe.files() if recipe.files else None,
        )


def allowed_statuses(spec: dict, method: str, path: str, required: str, caller: str) -> set[int]:
    """What the caller must get: 401/403 by role; else the recipe's success status, or (for
    an endpoint without a recipe) any non-auth status its OpenAPI operation documents."""
    if caller in ("none", "revoked"):
        return {401}
    if RANK[caller] < RANK[required]:
        return {403}
    if (method, path) in RECIPES:
        return {RECIPES[(method, path)].success}
    documented = spec["paths"][path][method.lower()]["responses"]
    return {int(code) for code in documented} - {401, 403, 429}


def test_every_endpoint_declares_its_role_and_docs_agree(tmp_path: Path, backend) -> None:
    table = route_table(create_app(backend.settings(tmp_path)))
    documented = documented_roles()
    seen = {}
    for entry in table:
        if entry.public:
            continue
        assert entry.rule is not None, f"{entry.path} declares no Authorize(role, action)"
        if entry.path.startswith("/console"):
            continue  # web console pages: docs/console.md, tests/browser/test_console_http.py
        # One documented row covers every mart: each has its own route (and filters).
        path = re.sub(r"^/api/v1/marts/[a-z_]+$", "/api/v1/marts/{name}", entry.path)
        for method in entry.methods - {"HEAD"}:
            assert seen.setdefault((method, path), entry.rule.role) == entry.rule.role
            assert (method, path) in documented, f"{method} {entry.path} is not in docs/api.md"
    assert {e.path for e in table if e.public} == set(PUBLIC_PATHS | CONSOLE_PUBLIC_PATHS)
    assert seen == documented, "docs/api.md's roles table and the routes disagree"


def test_role_matrix(matrix_server, backend) -> None:
    server, values = matrix_server
    app = create_app(backend.settings(server.home))
    table, spec = route_table(app), app.openapi()
    failures = []
    calls = 0
    for entry in table:
        if entry.public or entry.path.startswith("/console"):  # browser pages: tests/browser
            continue
        for method in sorted(entry.methods - {"HEAD"}):
            for caller in CALLERS:
                response = _request(server, values, entry, method, caller)
                calls += 1
                expected = allowed_statuses(spec, method, entry.path, entry.rule.role, caller)
                if response.status_code not in expected:
                    failures.append((method, entry.path, caller, expected, response.status_code))
                elif response.status_code >= 400:
                    assert response.headers["content-type"] == "application/problem+json"
                if expected == {401}:
                    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not failures, "\n".join(map(str, failures))
    assert calls >= 5 * 20


def test_public_paths_need_no_key(matrix_server) -> None:
    server, _ = matrix_server
    with httpx.Client(base_url=server.url) as http:
        for path in PUBLIC_PATHS:
            path = path.replace("{name}", "swagger-ui.css")
            assert http.get(path).status_code == 200, path
        assert http.get("/api/v1/does-not-exist").status_code == 401  # no probing
