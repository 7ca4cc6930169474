"""What My day and the week calendar share: they load when shown, reload once per burst of
follow-up changes (my own change and its live echo arrive together), and drop an answer that a
newer load has overtaken."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QWidget

from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus, handle_error
from crm_desktop.session import Session
from crm_desktop.tasks import spawn

RELOAD_DELAY_MS = 120


def touches_activities(areas: frozenset[str]) -> bool:
    return "*" in areas or any(a == "activities" or a.startswith("activities.") for a in areas)


class LiveFollowUpsView(QWidget):
    """Subclasses say what to ask (`fetch`) and how to show the answer (`show_data`)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.loaded = False
        self._generation = 0
        self._stale = True
        self._loading = 0
        self._soon = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._soon.timeout.connect(self.reload)
        change_bus().changed.connect(self._on_changed)

    async def fetch(self) -> Any:
        raise NotImplementedError

    def show_data(self, data: Any) -> None:
        raise NotImplementedError

    def load_failed(self, error: ApiError) -> None:
        handle_error(self, error)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if not touches_activities(areas):
            return
        if self.isVisible():
            self._soon.start()
        else:
            self._stale = True

    def is_busy(self) -> bool:
        """A load is on its way or about to start (tests and the screenshot tool wait for False)."""
        return self._soon.isActive() or self._loading > 0

    def reload(self) -> None:
        self._stale = False
        self._generation += 1
        spawn(self._load(self._generation))

    async def _load(self, generation: int) -> None:
        self._loading += 1
        try:
            data = await self.fetch()
        except ApiError as exc:
            if generation == self._generation and shiboken6.isValid(self):
                self.load_failed(exc)
            return
        finally:
            self._loading -= 1
        if generation != self._generation or not shiboken6.isValid(self):
            return  # a newer load is on its way, or the page is gone
        self.loaded = True
        self.show_data(data)
