"""The live event stream, held open for the whole session.

One WebSocket to ``/api/events`` with the session token in the Authorization header. Every change
the user may see arrives as ``event(LiveEvent)``; after a drop the stream reconnects with backoff
and resumes with ``?since=<last seq>``, so nothing is missed. A ``reset`` frame (the gap was too
long) asks every view to reload (``reset`` signal). While the stream is down the ApiClient is told
the server is unreachable, which shows the "Offline - reconnecting..." banner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random

from PySide6.QtCore import QObject, Signal
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from crm_desktop.api.client import ApiClient, ApiError
from crm_server.contract.events import LiveEvent

log = logging.getLogger(__name__)

PING_SECONDS = 10
BACKOFF = (0.25, 0.5, 1, 2, 4, 8, 15)
AUTH_CLOSE_CODE = 4401


class EventStream(QObject):
    # LiveEvent. The name hides QObject.event (Qt's event handler) from type checkers; PySide keeps
    # calling the C++ handler. Renaming it (say, `received`) touches every view that listens.
    event = Signal(object)  # type: ignore[assignment]
    reset = Signal()  # reload everything: events were missed
    connected = Signal()  # (re)connected; `resumed` tells whether it followed a drop
    state_changed = Signal(str)  # "connecting", "connected", "reconnecting", "stopped"

    def __init__(self, api: ApiClient) -> None:
        super().__init__()
        self.api = api
        self.last_seq: int | None = None
        self.state = "stopped"
        self.resumed = False
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._wake: asyncio.Future[None] | None = None

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._set_state("stopped")

    def wake(self) -> None:
        """Skip the rest of the back-off wait and try to reconnect now ("Try now")."""
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    # --- the connection loop ---------------------------------------------------------------------

    def _url(self) -> str:
        url = self.api.events_url
        return url if self.last_seq is None else f"{url}?since={self.last_seq}"

    async def _run(self) -> None:
        failures = 0
        ever_connected = False
        self._set_state("connecting")
        while True:
            reachable = False
            try:
                headers = {"Authorization": f"Bearer {self.api.token}"} if self.api.token else {}
                async with connect(
                    self._url(),
                    additional_headers=headers,
                    open_timeout=10,
                    # A server that stops answering (paused, its host gone) without closing the
                    # connection shows as offline within PING_SECONDS * 2.
                    ping_interval=PING_SECONDS,
                    ping_timeout=PING_SECONDS,
                    max_size=2**22,
                ) as ws:
                    self._ws = ws
                    failures = 0
                    await self._receive(ws, resumed=ever_connected)
                    ever_connected = True
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                reachable = True
                if exc.response.status_code in (401, 403):
                    await self._check_session()
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.info("event stream dropped: %s", exc)
                if self._ws is not None and self._ws.close_code == AUTH_CLOSE_CODE:
                    await self._check_session()
            except Exception:
                log.exception("event stream failed")
            finally:
                self._ws = None
            if not reachable:
                self.api.note_unreachable()
            self._set_state("reconnecting")
            delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
            failures += 1
            self._wake = asyncio.get_running_loop().create_future()
            await asyncio.wait([self._wake], timeout=delay * (0.8 + 0.4 * random.random()))

    async def _receive(self, ws: ClientConnection, resumed: bool) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "hello":
                if self.last_seq is None:
                    self.last_seq = int(frame.get("last_seq", 0))
                self.resumed = resumed
                self._set_state("connected")
                self.api.note_reachable()
                self.connected.emit()
            elif kind == "event":
                event = LiveEvent.model_validate(frame)
                if self.last_seq is not None and event.seq <= self.last_seq:
                    continue  # already seen (a resume may overlap)
                self.last_seq = event.seq
                self.event.emit(event)
            elif kind == "reset":
                self.last_seq = None  # the next event or hello sets it again
                self.reset.emit()

    async def _check_session(self) -> None:
        """The stream was refused: a plain request lets the client's sign-in-again flow run."""
        with contextlib.suppress(ApiError):
            await self.api.get("/api/auth/me")
