"""This process's own request timings, for the admin's Home: how long each HTTP request took from
its first byte in to its last byte out, kept for the last hour (at most MOST of them). Each server
process keeps its own and answers for itself; nothing is written to the database.

It also counts the requests being answered now, so that work that can wait (a webhook's event,
worked on by a job in this same process) lets them go first: a provider's burst is acknowledged
before its events are worked on, instead of both sharing the core."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WINDOW_SECONDS = 3600
MOST = 20_000
FEWEST = 20  # fewer requests than this in the window: no percentile worth showing
BUSY = 2  # more requests than this in flight: the process is busy answering
LONGEST_WAIT = 5.0  # seconds a waiting job yields at most (a steady stream must not starve it)

_in_flight = 0  # requests of this process being answered now (all its apps: one per process in production)


def in_flight() -> int:
    return _in_flight


async def yield_to_requests(busy: int = BUSY, longest: float = LONGEST_WAIT) -> None:
    """Wait while this process is busy answering requests, for at most `longest` seconds."""
    deadline = time.monotonic() + longest
    while _in_flight > busy and time.monotonic() < deadline:  # noqa: ASYNC110 (no Event: one per loop, a test runs several)
        await asyncio.sleep(0.02)


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
        global _in_flight
        started = time.perf_counter()
        _in_flight += 1
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            global _in_flight
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.timings.add((time.perf_counter() - started) * 1000)
                if not answered:
                    answered = True
                    _in_flight -= 1

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not answered:  # failed or cut off before its last byte
                _in_flight -= 1
