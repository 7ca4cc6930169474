"""This process's own request timings, for the admin's Home: how long each HTTP request took from
its first byte in to its last byte out, kept for the last hour (at most MOST of them). Each server
process keeps its own and answers for itself; nothing is written to the database."""

from __future__ import annotations

import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WINDOW_SECONDS = 3600
MOST = 20_000
FEWEST = 20  # fewer requests than this in the window: no percentile worth showing


class RequestTimings:
    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=MOST)

    def add(self, milliseconds: float) -> None:
        self._samples.append((time.monotonic(), milliseconds))

    def p95(self) -> tuple[float | None, int]:
        """The 95th percentile in ms over the window (None with too few requests) and the count."""
        cutoff = time.monotonic() - WINDOW_SECONDS
        recent = sorted(ms for at, ms in self._samples if at >= cutoff)
        if len(recent) < FEWEST:
            return None, len(recent)
        return recent[min(len(recent) - 1, round(0.95 * (len(recent) - 1)))], len(recent)


class TimingMiddleware:
    """Times every HTTP request (WebSockets, the live events, are not requests that end)."""

    def __init__(self, app: ASGIApp, timings: RequestTimings) -> None:
        self.app = app
        self.timings = timings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.timings.add((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed_send)
