"""Group commit of the per-request write: rate counters and audit entries of many requests in
one transaction.

Every governed request ends with one write (its rate-window count and its audit entry,
`api.request_gate.settle`). Committed one by one, each is a synchronous SQLite commit (an fsync) and
requests queue on the database's single write lock: that capped the API near 120 requests/s
whatever the number of workers (docs/benchmarks.md, A1). Here a writer thread per process
takes every request waiting to be settled, writes them all in one transaction and commits
once, then releases the requests. Nothing is weakened:

- a response still leaves only after its audit entry is committed (durably: the database's
  own ``synchronous`` setting is unchanged);
- the entries of one batch are appended in arrival order, each chained to the previous one,
  and batches from several workers serialise on the database's write lock as single
  requests did (taking turns in the kernel first, `moatmetrics.appdb.db.writer_turn`);
- if a batch fails, its requests are settled again one by one, so one bad entry fails only
  its own request (503), never its neighbours'.

Under light load a batch holds one request and costs what a single commit did; under heavy
load one commit carries hundreds.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from moatmetrics.settings import Settings

log = logging.getLogger("moatmetrics.api")

#: At most this many requests share one transaction (bounds a batch's lock time).
MAX_BATCH = 256


@dataclass
class _Pending:
    settings: Settings
    write: Callable[[object], Any]  # performs the request's writes in the given session
    done: Future = field(default_factory=Future)


class GroupCommit:
    """One writer thread per process; `settle` awaits the commit that carries the request."""

    def __init__(self, session_factory: Callable[..., object]) -> None:
        # session_factory(settings, write=True, turn=True) -> a write session that takes the
        # process's writer turn (moatmetrics.appdb.db.session_scope)
        self._session_factory = session_factory
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def settle(self, settings: Settings, write: Callable[[object], Any]) -> Any:
        """Run `write(session)` in the next group transaction and return what it returned once
        the transaction has committed; raises if it cannot commit."""
        pending = _Pending(settings, write)
        self._ensure_writer()
        self._queue.put(pending)
        return await asyncio.wrap_future(pending.done)

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="audit-group-commit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_settings: dict[int, list[_Pending]] = {}
            for pending in batch:
                by_settings.setdefault(id(pending.settings), []).append(pending)
            for group in by_settings.values():
                self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        try:
            settings = group[0].settings
            with self._session_factory(settings, write=True, turn=True) as session:
                results = [pending.write(session) for pending in group]
        except Exception as error:
            if len(group) == 1:
                self._fail(group[0], error)
                return
            for pending in group:  # isolate the request that broke the batch
                try:
                    with self._session_factory(pending.settings, write=True, turn=True) as session:
                        result = pending.write(session)
                except Exception as error:
                    self._fail(pending, error)
                else:
                    self._succeed(pending, result)
            return
        for pending, result in zip(group, results, strict=True):
            self._succeed(pending, result)

    @staticmethod
    def _succeed(pending: _Pending, result: Any) -> None:
        if not pending.done.done():
            pending.done.set_result(result)

    @staticmethod
    def _fail(pending: _Pending, error: Exception) -> None:
        log.exception("could not settle a request")
        if not pending.done.done():
            pending.done.set_exception(error)
