"""The signed-in session: the API client, who I am (Me), and the live event stream.

Views read ``session.me`` and listen to ``me_changed`` (role or permissions changed: rebuild what
depends on them), ``events.event`` (one live change) and ``events.reset`` (reload everything).
Live events are also announced on the change bus by module, so a view that refreshes on
``changed`` stays current with other desktops' changes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtCore import QObject, Signal

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.api.events import EventStream
from crm_desktop.operations import change_bus
from crm_desktop.outbox import Outbox
from crm_server.contract.auth import Me
from crm_server.contract.events import LiveEvent

log = logging.getLogger(__name__)


class Session(QObject):
    me_changed = Signal(object)  # Me
    closed = Signal()

    def __init__(self, api: ApiClient, me: Me) -> None:
        super().__init__()
        self.api = api
        self.me = me
        self.events = EventStream(api)
        self.events.event.connect(self._on_event)
        self.events.reset.connect(self._on_reset)
        self.events.connected.connect(self._on_connected)
        # Edits made while the server is away wait here (kept across restarts) until it is back.
        self.outbox = Outbox(api, me.id)
        api.outbox = self.outbox
        self._reload: asyncio.Task[None] | None = None
        change_bus().changed.connect(self._on_changed)

    def can(self, module: str, action: str = "view") -> bool:
        grant = self.me.permissions.get(module)
        return grant is not None and action in grant.actions

    def start(self) -> None:
        self.events.start()
        self.outbox.start()

    async def close(self, sign_out: bool = False) -> None:
        with contextlib.suppress(RuntimeError, TypeError):
            change_bus().changed.disconnect(self._on_changed)
        await self.events.stop()
        self.outbox.close()
        if self.api.outbox is self.outbox:
            self.api.outbox = None
        if sign_out:
            with contextlib.suppress(ApiError):
                await auth.logout(self.api)
        self.closed.emit()

    # --- who am I --------------------------------------------------------------------------------

    def reload_me(self) -> asyncio.Task[None]:
        if self._reload is None or self._reload.done():
            self._reload = asyncio.ensure_future(self._reload_me())
        return self._reload

    async def _reload_me(self) -> None:
        try:
            me = await auth.me(self.api)
        except ApiError as exc:
            log.info("could not reload me: %s", exc.message)
            return
        if me != self.me:
            self.me = me
            self.me_changed.emit(me)

    def affects_me(self, event: LiveEvent) -> bool:
        if event.module != "admin":
            return False
        return (event.entity == "role" and event.entity_id == self.me.role_id) or (
            event.entity == "user" and event.entity_id == self.me.id
        )

    def _on_changed(self, areas: frozenset[str]) -> None:
        """An operation of mine changed my account (password, 2FA): fetch Me again."""
        if "me" in areas:
            self.reload_me()

    # --- live events -----------------------------------------------------------------------------

    def _on_event(self, event: LiveEvent) -> None:
        if self.affects_me(event):
            self.reload_me()
        change_bus().announce(frozenset({event.module, f"{event.module}.{event.entity}"}))

    def _on_reset(self) -> None:
        self.reload_me()
        change_bus().announce(frozenset({"*"}))

    def _on_connected(self) -> None:
        if self.events.resumed:  # back after a drop: what I may see could have changed meanwhile
            self.reload_me()
