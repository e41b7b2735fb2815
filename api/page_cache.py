"""Rendered mart pages, kept per process and keyed by snapshot: a snapshot never changes.

BI tools and dashboards ask the same pages again and again (every refresh of every viewer).
A published snapshot is immutable, so a page rendered once for snapshot S and a given query is
the right answer for every later request of that query on S; the cache key starts with the
snapshot id, so a publish makes every old entry unreachable (they age out of the LRU). Only the
rendering is cached: each request still passes the gate (key, role, rate limit) and gets its
own audit entry naming the snapshot it was served from.

Bounded by total body size (`MOATMETRICS_PAGE_CACHE_MB`, default 64; 0 switches it off).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from fastapi import Response


@dataclass(frozen=True)
class _Rendered:
    body: bytes
    media_type: str | None
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        response = Response(self.body, media_type=self.media_type)
        for name, value in self.headers:
            response.headers[name] = value
        return response


class PageCache:
    """A thread-safe LRU of rendered responses, bounded by the bytes of their bodies."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], Response]) -> Response:
        """The cached page for `key`, or `render()` (cached when it is a 200 within budget)."""
        if self.max_bytes <= 0:
            return render()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit.response()
        response = render()
        body = bytes(response.body)
        if response.status_code != 200 or len(body) > self.max_bytes // 4:
            return response
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        )
        rendered = _Rendered(body, response.media_type, headers)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = rendered
                self._bytes += len(body)
                while self._bytes > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self._bytes -= len(old.body)
        return rendered.response()
