"""Pick one colleague by typing part of a name or email; matches come from the server, 20 at a time.

The list of users can be long, so the picker never loads it: each pause in typing asks the server
(crm_desktop.api.auth.colleagues, 20 at most) and shows the answers in the completer popup.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from crm_desktop import tasks
from crm_desktop.api import auth
from crm_server.contract.auth import Colleague

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole + 1
LIMIT = 20


def user_label(user: Colleague) -> str:
    return f"{user.full_name} <{user.email}>"


class UserPicker(QLineEdit):
    """A search box with a server-fed completer; `user_id` is the chosen user (None until one is)."""

    user_changed = Signal(object)  # int | None
    results_arrived = Signal(int)  # how many matches the last search returned

    def __init__(
        self, api: Any, active_only: bool = True, exclude: set[int] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.api = api
        self.active_only = active_only
        self.exclude = set(exclude or ())
        self.user_id: int | None = None
        self._chosen_text = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self.setPlaceholderText("Type a name or email…")
        self.setClearButtonEnabled(True)
        self.matches = QStandardItemModel(self)
        completer = QCompleter(self.matches, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated[QModelIndex].connect(self._on_activated)  # type: ignore[index]
        self.setCompleter(completer)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.search_now)
        self.textEdited.connect(self._on_edited)

    def _on_edited(self, text: str) -> None:
        if self.user_id is not None and text != self._chosen_text:
            self.user_id = None
            self.user_changed.emit(None)
        self._debounce.start()

    def search_now(self) -> None:
        self._seq += 1
        task = tasks.spawn(self._search(self.text().strip(), self._seq))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def _search(self, text: str, seq: int) -> None:
        try:
            page = await auth.colleagues(self.api, text, active=True if self.active_only else None, limit=LIMIT)
        except Exception as exc:  # a failed suggestion list is not worth a dialog
            log.info("user search failed: %s", exc)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return  # the user typed on (a newer search is coming), or the picker is gone
        self.matches.clear()
        for user in page.items:
            if user.id in self.exclude:
                continue
            item = QStandardItem(user_label(user))
            item.setData(user.id, ID_ROLE)
            self.matches.appendRow(item)
        self.results_arrived.emit(self.matches.rowCount())
        if self.hasFocus() and self.matches.rowCount():
            self.completer().complete()

    def _on_activated(self, index: QModelIndex) -> None:
        # The completer's popup model may be a proxy; read the id through the index it gives us.
        user_id = index.data(ID_ROLE)
        self.set_user(int(user_id), str(index.data()))

    def choose(self, row: int) -> None:
        """Take the row-th match (keyboard users press Enter in the popup; this is the same)."""
        item = self.matches.item(row)
        self.set_user(int(item.data(ID_ROLE)), item.text())

    def set_user(self, user_id: int | None, label: str = "") -> None:
        self.user_id = user_id
        self._chosen_text = label
        self.setText(label)
        self.user_changed.emit(user_id)

    def value(self) -> int | None:
        return self.user_id
