"""The gate every request passes: key, rate limit, role, body size, audit entry, request id.

A pure ASGI middleware rather than FastAPI dependencies alone, for three reasons:

- it answers 401/403/413/429 before FastAPI reads a body, so nobody without the right key
  can make the server parse (or spool to disk) a large upload;
- it writes the audit entry of a read *before* the response leaves (at ``http.response.start``)
  and answers 503 instead if the entry cannot be written: no data is served unrecorded;
- every response, errors included, carries an ``X-Request-ID`` that is also in the audit log.

Cost: a read (GET, HEAD) on a key this worker has seen in the last half second touches no
database when it arrives: the key comes from `api.key_cache` and the rate window from
`api.rate_windows`. Requests that change state, console sessions and unknown keys read the
app database (key and rate window) as before. Every request then takes one share of a group
commit when its response starts (the rate counter and the audit entry, written together with
those of the other requests settling at that moment, `api.audit_group_commit`); the counter
it returns confirms the read's admission before the response leaves, so the limit is exact
across workers. See docs/api.md, "Measured".

Handlers that change state write their audit entry themselves, in the same transaction as the
change, and mark the request as audited (`api.security.mark_audited`).

What an entry records is bounded and never secret (docs/security.md): at most
`MAX_QUERY_BYTES` of the query and `MAX_TARGET_CHARS` of the path, API keys and session
tokens replaced by their public prefix. Refusals without a valid key are counted per client
address, action and minute (`moatmetrics.appdb.refusals`): the first is logged in full, the
rest in one summary entry, and past `MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE` they get 429.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_group_commit import GroupCommit
from api.key_cache import KeyCache
from api.metrics import RequestMetrics
from api.problems import (
    ProblemError,
    audit_unavailable,
    invalid_path,
    method_not_allowed,
    problem_response,
    rate_limited,
    too_large,
    unauthorized,
)
from api.rate_windows import RateWindows
from api.security import PUBLIC_PATHS, SCRAPER, Authorize, RouteEntry, match_route, route_table
from moatmetrics.appdb import audit, console_sessions, keys, ratelimit, refusals
from moatmetrics.appdb.db import AppDatabaseReplaced, session_scope
from moatmetrics.appdb.keys import Principal, hash_key
from moatmetrics.settings import Settings

log = logging.getLogger("moatmetrics.api")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DEFAULT_BODY_LIMIT = 2**20
MULTIPART_OVERHEAD = 64 * 2**10
# Paths that match no route still need a valid key (no probing for what exists).
UNMATCHED = Authorize("viewer", "api.unknown_path")
# What one audit entry may hold of a request (an anonymous 60 KB query is not kept whole).
MAX_QUERY_BYTES = 2048
MAX_TARGET_CHARS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Secrets that may arrive in a URL: logged as their public prefix only, never in clear.
_SECRETS = re.compile(r"(mmk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}|mms_[A-Za-z0-9_-]{43}")
_SECRET_PARAMS = frozenset(
    {"key", "api_key", "apikey", "token", "access_token", "secret", "password", "authorization"}
)
REDACTED = "[redacted]"
#: Methods that change nothing: admitted from the worker's memory (key cache, rate view).
READ_METHODS = frozenset({"GET", "HEAD"})


def redact(text: str, extra_secret: str | None = None) -> str:
    """`text` with API keys reduced to their prefix and session tokens (and `extra_secret`,
    the scrape token) removed: a key sent in a URL must not be stored in clear."""
    if extra_secret and extra_secret in text:
        text = text.replace(extra_secret, REDACTED)
    return _SECRETS.sub(lambda m: f"{m.group(1)}_{REDACTED}" if m.group(1) else REDACTED, text)


def recorded_query(raw: bytes, extra_secret: str | None = None) -> dict[str, Any]:
    """The query as an audit entry keeps it: parsed, secrets redacted, at most
    MAX_QUERY_BYTES of it (beyond: the parameters that fit and the full size)."""
    text = raw.decode("latin-1")
    details: dict[str, Any] = {}
    if len(raw) > MAX_QUERY_BYTES:
        details["query_bytes"] = len(raw)
        text = text[:MAX_QUERY_BYTES].rsplit("&", 1)[0] if "&" in text[:MAX_QUERY_BYTES] else ""
    query = QueryParams(text)
    if query:
        details["query"] = {
            redact(k, extra_secret): [
                REDACTED if k.lower() in _SECRET_PARAMS else redact(v, extra_secret)
                for v in query.getlist(k)
            ]
            for k in sorted(set(query.keys()))
        }
    return details


def recorded_target(path: str) -> str:
    """A path as an audit target: secrets redacted, control characters escaped, capped."""
    text = redact(path)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > MAX_TARGET_CHARS:
        text = text[:MAX_TARGET_CHARS] + f"...({len(path)} characters)"
    return text


class _BodyTooLarge(Exception):
    """Raised from `receive` when a body passes the endpoint's limit."""


@dataclass
class Admission:
    principal: Principal | None
    reason: str | None = None
    key_name: str | None = None
    rate: ratelimit.RateDecision | None = None


def admit(
    settings: Settings,
    token: str | None,
    rule: Authorize,
    *,
    console: bool = False,
    client_addr: str | None = None,
) -> Admission:
    """Authenticate the token (an API key, or a console session token when `console`) and read
    the key's rate window, or for a refusal the address's refusal window (reads only)."""
    scrape = settings.metrics_token
    if rule.scrape_token and scrape and token and hmac.compare_digest(token, scrape):
        return Admission(SCRAPER)
    with session_scope(settings) as session:
        if console:
            auth = console_sessions.authenticate(session, token)
        else:
            auth = keys.authenticate(session, token)
        if auth.principal is None:
            limit = settings.anonymous_limit_per_minute
            rate = refusals.peek(session, client_addr, limit)
            return Admission(None, auth.reason, auth.key_name, rate)
        rate = ratelimit.peek(session, auth.principal.key_id, settings.rate_limit_per_minute)
        return Admission(auth.principal, rate=rate)


@dataclass(frozen=True)
class Draft:
    """An audit entry to append when the request is settled."""

    actor: audit.Actor
    action: str
    outcome: str
    target: str
    status: int
    details: dict[str, Any]


def _sampled_refusal(rate: ratelimit.RateDecision | None) -> bool:
    """429s are recorded at the 1st, 2nd, 4th, 8th... refusal of a key in a window."""
    if rate is None or not rate.limit:
        return True
    over = rate.count - rate.limit
    return over > 0 and over & (over - 1) == 0


def settle(
    session: Session,
    settings: Settings,
    key_id: int | None,
    draft: Draft | None,
    *,
    sample: bool = False,
    refused_addr: str | None = None,
    over_limit: Draft | None = None,
) -> ratelimit.RateDecision | None:
    """The one write of a request: count it in the key's window and append its audit entry.

    Returns the key's window as counted (None without a key). When that count is past the
    limit and `over_limit` is given (a read admitted from the worker's memory that another
    worker beat to the window's last request), `over_limit` (its 429) is recorded, sampled
    like any 429, instead of `draft`, and the gate answers 429.

    A refusal without a valid key (`refused_addr`, its client address) is counted in the
    address's window instead, and logged in full only as the window's first.

    Runs inside a write session shared with other requests (`api.audit_group_commit.GroupCommit`).
    """
    rate = None
    if refused_addr is not None:
        action = draft.action if draft is not None else "unknown"
        limit = settings.anonymous_limit_per_minute
        first, _ = refusals.hit(session, refused_addr, action, limit)
        if first:
            refusals.summarise_closed(session)
            if draft is not None:
                record_draft(session, draft)
        return None
    if key_id:
        rate = ratelimit.hit(session, key_id, settings.rate_limit_per_minute)
        if rate.first_in_window:
            keys.touch(session, key_id)
        if over_limit is not None and not rate.allowed:
            draft, sample = over_limit, True
    if draft is not None and (not sample or _sampled_refusal(rate)):
        record_draft(session, draft)
    return rate


def record_draft(session: Session, draft: Draft) -> None:
    audit.append(
        session, draft.actor, draft.action, draft.outcome, draft.target, draft.status,
        draft.details,
    )  # fmt: skip


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate_limited"
    return "failed" if status >= 500 else "refused"


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


@dataclass
class _Exchange:
    """What the gate knows about one request while it is served."""

    scope: Scope
    settings: Settings
    rule: Authorize
    request_id: str
    client_addr: str | None
    principal: Principal | None = None
    key_name: str | None = None
    rate: ratelimit.RateDecision | None = None
    status: int | None = None
    body_exceeded: bool = False
    allowed: list[str] = field(default_factory=list)  # the path exists, not with this method
    swallow: bool = False
    extra_details: dict[str, Any] = field(default_factory=dict)
    in_flight_key: int | None = None  # counted in the worker's rate view until settled
    unrecorded: str | None = None  # why the audit entry could not be written, when known

    @property
    def state(self) -> dict[str, Any]:
        return self.scope.setdefault("state", {})

    def actor(self) -> audit.Actor:
        principal = self.principal
        return audit.Actor(
            name=principal.name if principal else (self.key_name or "anonymous"),
            role=principal.role if principal else None,
            request_id=self.request_id,
            client_addr=self.client_addr,
        )

    def target(self) -> str:
        path = self.scope["path"]
        target = self.state.get("audit_target") or path.removeprefix("/api/v1/").lstrip("/")
        return recorded_target(target)

    def details(self) -> dict[str, Any]:
        raw = self.scope.get("query_string", b"")
        details: dict[str, Any] = {"method": self.scope["method"]}
        details.update(recorded_query(raw, self.settings.metrics_token))
        return {**details, **self.extra_details, **self.state.get("audit_details", {})}

    def response_headers(self) -> dict[str, str]:
        headers = {"X-Request-ID": self.request_id}
        if self.rate is not None and self.rate.limit:
            headers["RateLimit-Limit"] = str(self.rate.limit)
            headers["RateLimit-Remaining"] = str(self.rate.remaining)
            headers["RateLimit-Reset"] = str(self.rate.reset_after)
        return headers


class BrowserFront(Protocol):
    """The paths a browser signs in to (the web console): where their key is and how refusals look.

    Handed to the gate by the app (`api.console.install.CONSOLE_FRONT`), so the middleware
    does not import the console it serves.
    """

    def owns(self, scope: Scope) -> bool:
        """Whether the request is on the browser's paths."""
        ...

    def session_token(self, scope: Scope) -> str | None:
        """The session token a browser request carries (its session cookie), if any."""
        ...

    def response(self, scope: Scope, response: Response) -> Response:
        """A refusal as the browser should see it; other paths' responses unchanged."""
        ...


class Gate:
    """ASGI middleware; `api` is the FastAPI app whose route table declares the rules."""

    def __init__(
        self, app: ASGIApp, api: FastAPI, metrics: RequestMetrics, browser: BrowserFront
    ) -> None:
        self.app = app
        self.api = api
        self.metrics = metrics
        self.browser = browser
        self.group_commit = GroupCommit(session_scope)
        self.key_cache: KeyCache = api.state.key_cache
        self.rate_windows = RateWindows()
        self._key_reads: dict[str, asyncio.Future[Admission | None]] = {}  # key digest -> read
        self._table: list[RouteEntry] | None = None

    def _routes(self) -> list[RouteEntry]:
        # Built at the first request, when every router has been included.
        if self._table is None:
            self._table = route_table(self.api)
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        incoming_id = headers.get(REQUEST_ID_HEADER, "")
        route, allowed = match_route(self._routes(), scope)
        rule = route.rule if route is not None else None
        exchange = _Exchange(
            scope=scope,
            settings=self.api.state.settings,
            rule=rule or UNMATCHED,
            request_id=incoming_id if _REQUEST_ID.match(incoming_id) else uuid.uuid4().hex,
            client_addr=scope["client"][0] if scope.get("client") else None,
        )
        exchange.state["request_id"] = exchange.request_id
        exchange.allowed = allowed
        try:
            if _CONTROL.search(scope["path"]):  # e.g. %00: no route has one; PostgreSQL
                # cannot even store it. Refused before any lookup, and not logged (no key).
                await self._reply(exchange, send, invalid_path(), audit_it=False)
                return
            public = route.public if route is not None else scope["path"] in PUBLIC_PATHS
            if public:
                await self._public(exchange, headers, receive, send)
            else:
                await self._governed(exchange, headers, receive, send)
        finally:
            if exchange.in_flight_key is not None:  # the request ended before it settled
                self.rate_windows.settled(exchange.in_flight_key, None)
            template = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            self.metrics.observe(scope["method"], template, exchange.status or 500, seconds)

    async def _public(
        self, exchange: _Exchange, headers: Headers, receive: Receive, send: Send
    ) -> None:
        """Open paths: no key, no audit, but no body beyond the default limit either (the
        console's sign-in form is the one public route that takes a body)."""
        limit = DEFAULT_BODY_LIMIT
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._reply(exchange, send, too_large(limit), audit_it=False)
            return
        try:
            await self.app(
                exchange.scope,
                self._counting(exchange, receive, limit),
                self._sender(exchange, send, audit_it=False, limit=limit),
            )
        except _BodyTooLarge:
            if exchange.status is None:
                await self._reply(exchange, send, too_large(limit), audit_it=False)

    async def _governed(
        self, exchange: _Exchange, headers: Headers, receive: Receive, send: Send
    ) -> None:
        rule, settings = exchange.rule, exchange.settings
        scope = exchange.scope
        # The web console (api/console) sends its key in the session cookie instead of a
        # Bearer header; from here on it is admitted, limited and audited like any call.
        console = self.browser.owns(scope)
        token = self.browser.session_token(scope) if console else _bearer(headers)
        reads = scope["method"] in READ_METHODS
        try:
            admission = await self._admission(exchange, token, console=console, reads=reads)
        except AppDatabaseReplaced as exc:
            log.error("%s", exc)
            await self._reply(exchange, send, audit_unavailable(str(exc)), audit_it=False)
            return
        except Exception:
            log.exception("app database unavailable while authenticating")
            await self._reply(exchange, send, audit_unavailable(), audit_it=False)
            return
        exchange.principal, exchange.key_name = admission.principal, admission.key_name
        principal = admission.principal
        if principal is None:
            exchange.extra_details["reason"] = admission.reason
            refusal = admission.rate
            if refusal is not None and not refusal.allowed:
                problem = rate_limited(refusal.limit, refusal.reset_after)
            else:
                problem = unauthorized(admission.reason or "unknown")
            await self._reply(exchange, send, problem, refused=True)
            return
        if principal.key_id:
            exchange.rate = self.rate_windows.admit(
                principal.key_id, settings.rate_limit_per_minute, admission.rate
            )
            exchange.in_flight_key = principal.key_id
        if exchange.rate is not None and not exchange.rate.allowed:
            problem = rate_limited(exchange.rate.limit, exchange.rate.reset_after)
            await self._reply(exchange, send, problem, sample=True)
            return
        if not rule.allows(principal):
            await self._reply(exchange, send, rule.refusal(principal))
            return
        exchange.state["principal"] = principal
        if exchange.allowed:
            method = exchange.scope["method"]
            await self._reply(exchange, send, method_not_allowed(method, exchange.allowed))
            return
        limit = (
            settings.max_upload_bytes + MULTIPART_OVERHEAD if rule.upload else DEFAULT_BODY_LIMIT
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._reply(exchange, send, too_large(limit))
            return
        try:
            await self.app(
                exchange.scope,
                self._counting(exchange, receive, limit),
                self._sender(exchange, send, audit_it=rule.audit, limit=limit),
            )
        except _BodyTooLarge:
            if exchange.status is None:
                await self._reply(exchange, send, too_large(limit))
        except Exception:
            if exchange.status is None:
                exchange.status = 500
                await self._settle(exchange, 500, audit_it=rule.audit)
            raise

    async def _admission(
        self, exchange: _Exchange, token: str | None, *, console: bool, reads: bool
    ) -> Admission:
        """Who is calling, and for a key not cached, its rate window as read.

        A read on an API key seen valid in the last half second comes from memory
        (`api.key_cache`). When that memory has just lapsed, the reads arriving on the key
        meanwhile share one database read instead of each making its own (under load,
        dozens arrive in the few milliseconds a read takes). A refusal is never shared:
        it is counted per caller's address, so each refused caller reads for itself.
        """
        settings, rule, addr = exchange.settings, exchange.rule, exchange.client_addr

        def read() -> Admission:
            return admit(settings, token, rule, console=console, client_addr=addr)

        if not (reads and token and not console):
            return await anyio.to_thread.run_sync(read)
        principal = self.key_cache.principal(token)
        if principal is not None:
            return Admission(principal)
        digest = hash_key(token)
        shared = self._key_reads.get(digest)
        if shared is not None:
            admission = await asyncio.shield(shared)
            if admission is not None and admission.principal is not None:
                return admission
            return await anyio.to_thread.run_sync(read)
        read_at = time.monotonic()
        future: asyncio.Future[Admission | None] = asyncio.get_running_loop().create_future()
        self._key_reads[digest] = future
        admission = None
        try:
            admission = await anyio.to_thread.run_sync(read)
        finally:
            del self._key_reads[digest]
            future.set_result(admission)  # None when the read failed: the others try theirs
        if admission.principal is not None and admission.principal.key_id > 0:
            self.key_cache.remember(token, admission.principal, read_at)
        return admission

    @staticmethod
    def _counting(exchange: _Exchange, receive: Receive, limit: int) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exchange.body_exceeded = True
                    raise _BodyTooLarge
            return message

        return counting_receive

    def _sender(self, exchange: _Exchange, send: Send, *, audit_it: bool, limit: int = 0) -> Send:
        async def gated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if exchange.body_exceeded:  # FastAPI turned the aborted body into a 400
                    await self._reply(exchange, send, too_large(limit), audit_it=audit_it)
                    exchange.swallow = True
                    return
                status = message["status"]
                changed_state = bool(exchange.state.get("audited"))
                write_entry = audit_it and not changed_state
                snapshot = Headers(raw=message.get("headers", [])).get("x-snapshot-id")
                if snapshot:
                    exchange.extra_details["snapshot_id"] = snapshot
                recorded = await self._settle(
                    exchange, status, audit_it=write_entry, confirm=not changed_state
                )
                if not recorded and write_entry:
                    problem = audit_unavailable(exchange.unrecorded)
                    await self._reply(exchange, send, problem, audit_it=False)
                    exchange.swallow = True
                    return
                rate = exchange.rate
                if not changed_state and rate is not None and not rate.allowed:
                    # Another worker took the window's last request: the count of record
                    # refuses this one (its 429 is what the audit log holds).
                    problem = rate_limited(rate.limit, rate.reset_after)
                    await self._reply(exchange, send, problem, audit_it=False)
                    exchange.swallow = True
                    return
                exchange.status = status
                response_headers = MutableHeaders(scope=message)
                for name, value in exchange.response_headers().items():
                    response_headers[name] = value
            elif exchange.swallow:
                return
            await send(message)

        return gated_send

    async def _settle(
        self,
        exchange: _Exchange,
        status: int,
        *,
        audit_it: bool,
        sample: bool = False,
        refused: bool = False,
        confirm: bool = False,
    ) -> bool:
        """Count the request and append its audit entry (one transaction); False on failure.

        `confirm`: the request is being served and may still be refused if the count of
        record says its key's window is spent (`exchange.rate` then says so).
        """
        principal = exchange.principal
        key_id = principal.key_id if principal is not None and principal.key_id else None
        draft = over_limit = None
        if audit_it:
            draft = Draft(
                exchange.actor(), exchange.rule.action, _outcome(status), exchange.target(),
                status, exchange.details(),
            )  # fmt: skip
        if confirm and key_id is not None:
            over_limit = Draft(
                exchange.actor(), exchange.rule.action, _outcome(429), exchange.target(),
                429, exchange.details(),
            )  # fmt: skip
        if key_id is None and draft is None:
            return True
        refused_addr = (exchange.client_addr or refusals.UNKNOWN_ADDR) if refused else None
        rate = None
        try:
            settings = exchange.settings
            rate = await self.group_commit.settle(
                settings,
                lambda session: settle(
                    session, settings, key_id, draft, sample=sample, refused_addr=refused_addr,
                    over_limit=over_limit,
                ),
            )  # fmt: skip
            if rate is not None:
                exchange.rate = rate
            return True
        except AppDatabaseReplaced as exc:
            log.error("could not record request %s: %s", exchange.request_id, exc)
            exchange.unrecorded = str(exc)
            return False
        except Exception:
            log.exception("could not record request %s", exchange.request_id)
            return False
        finally:
            if exchange.in_flight_key is not None:
                self.rate_windows.settled(exchange.in_flight_key, rate)
                exchange.in_flight_key = None

    async def _reply(
        self,
        exchange: _Exchange,
        send: Send,
        problem: ProblemError,
        *,
        audit_it: bool = True,
        sample: bool = False,
        refused: bool = False,
    ) -> None:
        """Answer with a problem from the gate itself (the app never sees the request)."""
        status = problem.problem.status
        if audit_it:
            await self._settle(exchange, status, audit_it=True, sample=sample, refused=refused)
        exchange.status = status
        response = problem_response(
            problem.problem, {**(problem.headers or {}), **exchange.response_headers()}
        )
        # The console (api/console) gets a sign-in redirect or an HTML page instead.
        response = self.browser.response(exchange.scope, response)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})
