"""Background coroutines that change no data (loading, closing): started here so they are kept alive
until done and their failures are logged, never lost. Data changes go through ``operations.run``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
_alive: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    task = asyncio.ensure_future(coro)
    _alive.add(task)
    task.add_done_callback(_finished)
    return task


def loop_alive() -> bool:
    """False once the app's event loop is gone (the app or a test is closing): a timer that fires
    then must start nothing."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return False
    return True


def _finished(task: asyncio.Task[Any]) -> None:
    _alive.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def running() -> int:
    return len(_alive)
