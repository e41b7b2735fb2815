"""Who may call what: roles declared per route, checked before the request body is read.

Every route except the public ones (`PUBLIC_PATHS`) declares its minimum role and its audit
action with `Depends(Authorize("viewer", "marts.read"))`. The gate middleware (`api.request_gate`)
reads that declaration from the route table to authenticate, rate-limit and authorise *before*
FastAPI parses a body (an anonymous 500 MB multipart is refused at its first bytes); the
dependency itself checks again at handler time (defence in depth) and hands the principal to
the handler. The role-matrix test reads the same declarations, so a new endpoint without one
fails the tests instead of shipping open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import get_route_path
from starlette.types import Scope

from api.problems import ProblemError, forbidden, out_of_client_scope, unauthorized
from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.keys import ROLE_RANK, Principal

# Open without a key: liveness and the API description with its offline assets (no data).
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/redoc", "/docs/assets/{name}"})
# The web console's entry points (api/console): its sign-in form, its CSS/JS and the redirect
# from `/`. They show no data; every other console page is governed like an API endpoint.
CONSOLE_PUBLIC_PATHS = frozenset(
    {"/", "/favicon.ico", "/console/sign-in", "/console/static/{name}"}
    | {"/console/sso/start", "/console/sso/callback"}  # single sign-on (api/console/routers/sso.py)
    | {"/console/sign-in/second-factor"}  # admin keys' TOTP step (routers/second_factor.py)
)

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`mmk_...`) from `moatmetrics keys create`, as a bearer token.",
)

# The Prometheus scraper authenticated with MOATMETRICS_METRICS_TOKEN (no key, no role).
SCRAPER = Principal(key_id=0, name="metrics-scraper", role="scraper", prefix="token")


class Authorize:
    """Route dependency: the minimum role, the audit action, and what the gate allows.

    ``audit=False`` only for endpoints that reveal no client data (metrics scrapes);
    ``scrape_token`` lets MOATMETRICS_METRICS_TOKEN in; ``upload`` raises the body limit to
    the configured upload size; ``scoped`` declares that the route limits what it shows to a
    client-scoped caller's clients (`api.client_scope`): without it, scoped keys get 403.
    """

    def __init__(
        self,
        role: str,
        action: str,
        *,
        audit: bool = True,
        scrape_token: bool = False,
        upload: bool = False,
        scoped: bool = False,
    ) -> None:
        if role not in ROLE_RANK:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        self.action = action
        self.audit = audit
        self.scrape_token = scrape_token
        self.upload = upload
        self.scoped = scoped

    def __repr__(self) -> str:
        return f"Authorize({self.role!r}, {self.action!r})"

    def allows(self, principal: Principal) -> bool:
        if principal is SCRAPER or principal.role == SCRAPER.role:
            return self.scrape_token
        if principal.clients is not None and not self.scoped:
            return False
        return principal.has_role(self.role)

    def refusal(self, principal: Principal) -> ProblemError:
        """The 403 for a principal `allows` refuses: missing role, or outside a client scope."""
        if principal.clients is not None and not self.scoped and principal.has_role(self.role):
            return out_of_client_scope()
        return forbidden(principal.role, self.role)

    def __call__(
        self,
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        if principal is None:
            raise unauthorized("missing")
        if not self.allows(principal):
            raise self.refusal(principal)
        return principal


@dataclass(frozen=True)
class RouteEntry:
    """One endpoint of the app as the gate and the role-matrix test see it."""

    path: str
    methods: frozenset[str]
    regex: re.Pattern[str]
    rule: Authorize | None
    public: bool
    has_body: bool


def _rule(dependant: Dependant | None) -> Authorize | None:
    for dependency in dependant.dependencies if dependant else ():
        if isinstance(dependency.call, Authorize):
            return dependency.call
    return None


def _has_body(dependant: Dependant | None) -> bool:
    if dependant is None:
        return False
    return bool(dependant.body_params) or any(_has_body(d) for d in dependant.dependencies)


def route_table(app: FastAPI) -> list[RouteEntry]:
    """Every endpoint with its access rule, in matching order (included routers flattened)."""
    entries = []
    for context in iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        path = context.path_format
        if regex is None or path is None:
            continue
        dependant = getattr(context, "dependant", None)
        rule = _rule(dependant)
        methods = frozenset(context.methods or ())
        public = rule is None and (path in PUBLIC_PATHS or path in CONSOLE_PUBLIC_PATHS)
        has_body = _has_body(dependant)
        entries.append(RouteEntry(path, methods, regex, rule, public, has_body))
    return entries


def match_route(table: list[RouteEntry], scope: Scope) -> tuple[RouteEntry | None, list[str]]:
    """The endpoint a request will reach, or None and the methods its path allows (405)."""
    route_path = get_route_path(scope)
    allowed: set[str] = set()
    for entry in table:
        if entry.regex.match(route_path):
            if scope["method"] in entry.methods:
                return entry, []
            allowed |= entry.methods
    return None, sorted(allowed)


def actor_of(request: Request, principal: Principal) -> Actor:
    """The audit actor of a request: the key's name and role, request id and client address."""
    state = request.scope.get("state", {})
    return Actor(
        name=principal.name,
        role=principal.role,
        request_id=state.get("request_id"),
        client_addr=request.client.host if request.client else None,
    )


def mark_audited(request: Request) -> None:
    """The handler wrote its own audit entry (atomically with its change): the gate skips it."""
    request.state.audited = True


def set_audit_target(request: Request, target: str, **details: object) -> None:
    """Name what a read touched, and extra details, for the gate's audit entry."""
    request.state.audit_target = target
    if details:
        request.state.audit_details = {**getattr(request.state, "audit_details", {}), **details}
