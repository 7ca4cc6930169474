"""The server is restoring a backup: a banner across the main window while it does, then the
desktop reconnects and reloads what it shows.

The server tells every connected desktop with a live event (module "server", entity "server",
action "restoring", then "restored" or "restore_failed"; crm_server/backups/restore.py). While
it restores, the event stream may drop (the offline banner then shows too, and requests retry).
Once it is restored, the live stream starts over from the restored database's sequence (its
numbers are not the ones seen before), "Me" is read again (roles may differ in the restored data)
and every view reloads ("*" on the change bus), so nothing on screen is left from the database
that was replaced.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar

from crm_desktop import icons, theme
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_desktop.tasks import spawn
from crm_server.contract.events import LiveEvent

log = logging.getLogger(__name__)

RESTORING_TEXT = "The server is restoring a backup…"
RESTORING_DETAIL = "Anything saved meanwhile is replaced by the backup's data; this window reloads when it is done."
RESTORED_TEXT = "The server restored a backup: everything on screen was reloaded from it."
FAILED_TEXT = "The restore did not finish; the server is back on the data it had before."
# What the server's notice looks like (crm_server/backups/restore.py).
SERVER_MODULE = "server"
STARTED = frozenset({"restoring"})
ENDED = frozenset({"restored"})
FAILED = frozenset({"restore_failed"})


class RestoringBanner(QFrame):
    """Across the top of the content while the server restores a backup."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("restoringBanner")
        self.setAccessibleName("Server restoring")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 7, 16, 7)
        layout.setSpacing(10)
        self.icon = QLabel()
        self.label = QLabel(RESTORING_TEXT)
        self.label.setObjectName("restoringText")
        self.detail = QLabel(RESTORING_DETAIL)
        self.detail.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(120)
        layout.addWidget(self.icon)
        layout.addWidget(self.label)
        layout.addWidget(self.detail, 1)
        layout.addWidget(self.busy)
        self._style()
        theme.current().changed.connect(self._style)
        self.hide()

    def _style(self, *_: object) -> None:
        tokens = theme.TOKENS[theme.current().name]
        self.icon.setPixmap(icons.icon("server", tokens["warning_text"]).pixmap(QSize(18, 18)))
        self.setStyleSheet(
            f"QFrame#restoringBanner {{ background: {tokens['warning_bg']};"
            f" border-bottom: 1px solid {tokens['warning_border']}; }}"
            f" QFrame#restoringBanner QLabel {{ color: {tokens['warning_text']}; }}"
            " QLabel#restoringText { font-weight: 600; }"
        )

    @property
    def text(self) -> str:
        return self.label.text()


class RestoreWatcher(QObject):
    """Shows `banner` while the server restores; afterwards reconnects and reloads everything, then
    `reloaded` carries the words for the main window's notice."""

    restoring_changed = Signal(bool)
    reloaded = Signal(str)  # the stream started over and every view was told to reload: what to say

    def __init__(self, session: Session, banner: RestoringBanner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.banner = banner
        self.restoring = False
        self.last_message = ""
        self._restart: asyncio.Task[None] | None = None
        session.events.event.connect(self.on_event)

    @staticmethod
    def is_notice(event: LiveEvent) -> bool:
        return event.module == SERVER_MODULE and event.action in STARTED | ENDED | FAILED

    def on_event(self, event: LiveEvent) -> None:
        if not self.is_notice(event):
            return
        if event.action in STARTED:
            self._set(True)
            return
        restored = event.action in ENDED
        self.last_message = RESTORED_TEXT if restored else FAILED_TEXT
        detail = str(event.data.get("message") or "")
        if detail and not restored:
            self.last_message = f"{FAILED_TEXT} {detail}"
        self._set(False)
        if self._restart is None or self._restart.done():
            self._restart = spawn(self._reconnect_and_reload())

    def _set(self, restoring: bool) -> None:
        if restoring != self.restoring:
            self.restoring = restoring
            self.restoring_changed.emit(restoring)
        self.banner.setVisible(restoring)

    async def _reconnect_and_reload(self) -> None:
        """Start the event stream over (the restored database numbers its events anew), then reload."""
        events = self.session.events
        await events.stop()
        events.last_seq = None
        events.start()
        self.session.reload_me()
        change_bus().announce(frozenset({"*"}))
        self.reloaded.emit(self.last_message)
