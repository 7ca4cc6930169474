"""Global search: the top bar's box asks the server (api.search) as you type and lists the hits below it.

By keyboard: type, Down / Up to pick a hit, Enter to open it, Escape to close the list. Enter with no
hit picked searches at once."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from crm_desktop import icons
from crm_desktop.api import search
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.tasks import spawn
from crm_desktop.widgets.popup_frame import PopupFrame
from crm_desktop.widgets.search_box import SearchBox
from crm_server.contract.search import SearchHit, SearchResults

TYPE_MODULE = {
    "lead": "leads",
    "client": "clients",
    "contact": "clients",
    "ticket": "tickets",
    "invoice": "invoices",
    "product": "products",
}


class SearchController(QObject):
    """Debounces typing, asks the server, fills the popup; ``opened(module, hit)`` on a choice."""

    opened = Signal(str, object)

    def __init__(self, api: ApiClient, box: SearchBox) -> None:
        super().__init__(box)
        self.api = api
        self.box = box
        self.popup = SearchPopup(box)
        self.popup.chosen.connect(self._chosen)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._search)
        self._task: asyncio.Task[None] | None = None
        box.textEdited.connect(lambda _text: self._timer.start())
        box.submitted.connect(self._submitted)
        box.moved.connect(self._moved)
        box.dismissed.connect(self.popup.hide)
        self._shown_for: str | None = None  # the query whose results the popup shows

    def _submitted(self, text: str) -> None:
        """Enter: open the hit picked with the arrows (for the query on screen), else search now."""
        hit = self.popup.current_hit() if self.popup.isVisible() else None
        if hit is not None and text == self._shown_for:
            self._timer.stop()
            self._chosen(hit)
        else:
            self._search()

    def _moved(self, step: int) -> None:
        if self.popup.isVisible():
            self.popup.move_current(step)
        elif self._shown_for is not None and self._shown_for == self.box.text().strip():
            self.popup.show_under(self.box)  # Down after Escape: the same results again

    def _search(self) -> None:
        query = self.box.text().strip()
        if len(query) < 2:
            self.popup.hide()
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = spawn(self._fetch(query))

    async def _fetch(self, query: str) -> None:
        try:
            results = await search.search(self.api, query, limit=5)
        except ApiError as error:
            note = (
                "Search is not available on this server yet."
                if error.status == 404
                else f"Search did not answer: {error.message}"
            )
            self.popup.show_note(note)
        else:
            self.popup.show_results(results)
            self._shown_for = query
        if self.box.hasFocus() or self.popup.isVisible():
            self.popup.show_under(self.box)

    def _chosen(self, hit: SearchHit) -> None:
        self.popup.hide()
        self.opened.emit(TYPE_MODULE.get(hit.type, ""), hit)


class SearchPopup(PopupFrame):
    chosen = Signal(object)

    def __init__(self, anchor: QWidget) -> None:
        super().__init__(anchor, Qt.WindowType.ToolTip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.note = QLabel()
        self.note.setProperty("role", "muted")
        self.note.setContentsMargins(10, 8, 10, 8)
        self.note.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("notificationList")
        self.list.itemActivated.connect(self._choose)
        self.list.itemClicked.connect(self._choose)
        layout.addWidget(self.note)
        layout.addWidget(self.list)

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()
        self.list.hide()

    def show_results(self, results: SearchResults) -> None:
        self.list.clear()
        for group in results.groups:
            if not group.items:
                continue
            header = QListWidgetItem(group.label.upper())
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(header)
            for hit in group.items:
                text = hit.title + (f"  ·  {hit.subtitle}" if hit.subtitle else "")
                item = QListWidgetItem(icons.icon(TYPE_MODULE.get(hit.type, "search")), text)
                item.setData(Qt.ItemDataRole.UserRole, hit)
                self.list.addItem(item)
        if not self.list.count():
            self.show_note(f"Nothing matches “{results.q}”.")
            return
        self.list.setCurrentRow(-1)  # nothing picked until Down is pressed
        self.note.hide()
        self.list.show()
        rows = sum(self.list.sizeHintForRow(r) for r in range(self.list.count()))
        self.list.setFixedHeight(min(360, rows + 2 * self.list.frameWidth() + 4))

    def current_hit(self) -> SearchHit | None:
        item = self.list.currentItem()
        if item is None or not self.list.isVisible() or not item.isSelected():
            return None
        hit = item.data(Qt.ItemDataRole.UserRole)
        return hit if isinstance(hit, SearchHit) else None

    def move_current(self, step: int) -> None:
        """Select the next (or previous) hit, skipping the group headings; stops at either end."""
        if self.list.isHidden():
            return
        rows = [r for r in range(self.list.count()) if self.list.item(r).data(Qt.ItemDataRole.UserRole) is not None]
        if not rows:
            return
        current = self.list.currentRow() if self.current_hit() is not None else -1
        if current < 0:
            target = rows[0] if step > 0 else rows[-1]
        else:
            later = [r for r in rows if (r > current if step > 0 else r < current)]
            target = (later[0] if step > 0 else later[-1]) if later else current
        self.list.setCurrentRow(target)
        self.list.scrollToItem(self.list.item(target))

    def _choose(self, item: QListWidgetItem) -> None:
        hit = item.data(Qt.ItemDataRole.UserRole)
        if hit is not None:
            self.chosen.emit(hit)

    def show_under(self, anchor: QWidget) -> None:
        self.setFixedWidth(max(anchor.width(), 360))
        self.adjustSize()
        self.move(anchor.mapToGlobal(QPoint(0, anchor.height() + 4)))
        self.show()
