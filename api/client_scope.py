"""Client-scoped access (issue 17): the one place that says which clients a caller may see.

A key made with `--clients C1,C2` carries `Principal.clients`. Routes are closed to such a key
unless they declare `Authorize(..., scoped=True)` (checked by the gate, `api.security`), so a
new endpoint that forgets the scope refuses scoped keys instead of leaking other clients.
A route that declares it takes its filter from here and nowhere else:

    clients: ScopedClients            # handler parameter: None = every client

then passes it to the mart query (`MartQuery.clients`), or uses `restrict` / `allows` on the
client ids it reads. Portfolio-wide views (overview, staff utilisation, uploads, reviews,
quality, snapshots, the audit log) are not scoped: a scoped key gets 403 there, because their
totals and lists include every client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from moatmetrics.appdb.keys import Principal


def client_scope(request: Request) -> frozenset[str] | None:
    """The clients the request's caller may see (None: every client).

    Read from the principal the gate authenticated, so it cannot differ from what the gate
    checked; a request without one never reaches a handler.
    """
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return None if principal is None else principal.clients


ScopedClients = Annotated[frozenset[str] | None, Depends(client_scope)]


def restrict(scope: frozenset[str] | None, asked: Iterable[str] | None) -> tuple[str, ...] | None:
    """The client ids a query may touch: what was asked, cut to the scope.

    None means no client filter at all (unscoped caller, nothing asked); an empty tuple means
    nothing may match (every asked id is outside the scope) and must select no rows.
    """
    asked_ids = None if asked is None else {item for item in asked}
    if scope is None:
        return None if asked_ids is None else tuple(sorted(asked_ids))
    return tuple(sorted(scope if asked_ids is None else asked_ids & scope))


def allows(scope: frozenset[str] | None, client_id: str) -> bool:
    """Whether one client's rows may be shown."""
    return scope is None or client_id in scope
