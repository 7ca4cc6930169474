"""The only way the desktop changes data (in the manner of Anki's ``CollectionOp``).

    from crm_desktop import operations

    operations.run(
        self,                                        # the widget that asked (dialog, page)
        api.post("/api/users", json=payload),         # any awaitable; runs on the qasync loop
        success=lambda user: self.accept(),          # called with the result, on success only
        changed=frozenset({"admin.users"}),          # announced on the change bus after success
        fields={"email": self.email_edit},           # 422 field errors land next to these widgets
    )

Failures go to :func:`crm_desktop.operations.errors.handle_error`, the one error handler; the
returned task resolves to the result, or ``None`` when the call failed (it never raises). Views
listen to ``change_bus().changed`` and refresh only the areas named there.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import shiboken6
from PySide6.QtWidgets import QWidget

from crm_desktop.operations.bus import ChangeBus, change_bus
from crm_desktop.operations.errors import clear_fields, handle_error

__all__ = ["ChangeBus", "change_bus", "handle_error", "pending", "run"]

T = TypeVar("T")
log = logging.getLogger(__name__)

_running: set[asyncio.Task[object]] = set()  # keeps tasks alive until they finish


def run(
    parent: QWidget | None,
    coro: Awaitable[T],
    *,
    success: Callable[[T], None] | None = None,
    changed: frozenset[str] = frozenset(),
    fields: Mapping[str, QWidget] | None = None,
    reload: Callable[[], None] | None = None,
    busy: QWidget | None = None,
) -> asyncio.Task[T | None]:
    """Run ``coro`` in the background; report success or failure one way; announce ``changed``.

    ``reload`` is what "Reload" does after a 409 stale_version (the default re-announces
    ``changed`` so views showing the record fetch it again). ``busy`` (a button, a form) is
    disabled while the call runs, so a double click does not send it twice."""
    clear_fields(fields)
    if busy is not None:
        busy.setEnabled(False)

    def reload_default() -> None:
        change_bus().announce(changed)

    async def body() -> T | None:
        try:
            result = await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one handler for every failure, by design
            handle_error(parent, exc, fields=fields, reload=reload or reload_default)
            return None
        finally:
            if busy is not None and shiboken6.isValid(busy):
                busy.setEnabled(True)
        if changed:
            change_bus().announce(changed)
        if success is not None and (parent is None or shiboken6.isValid(parent)):
            try:
                success(result)
            except Exception:
                log.exception("success callback failed")
        return result

    task: asyncio.Task[T | None] = asyncio.ensure_future(body())
    _running.add(task)

    def finished(done: asyncio.Task[T | None]) -> None:
        _running.discard(done)
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()  # cancelled before it started: say nothing about a coroutine never awaited

    task.add_done_callback(finished)
    return task


def pending() -> int:
    """How many operations are still running (tests wait for 0)."""
    return len(_running)
