"""The bell's side: unread count and the latest notifications, kept current by live events.

``NotificationCenter`` holds the numbers and rows (views never fetch in paint or data()); the
popup under the bell shows them. Marking read is a data change, so it goes through operations."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import notifications
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations import change_bus
from crm_desktop.tasks import spawn
from crm_desktop.widgets.empty_state import EmptyState
from crm_desktop.widgets.popup_frame import PopupFrame
from crm_server.contract.admin import MarkRead, NotificationOut

LATEST = 30
ROW_WIDTH = 376


class NotificationCenter(QObject):
    count_changed = Signal(int)
    items_changed = Signal()

    def __init__(self, api: ApiClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.unread = 0
        self.items: list[NotificationOut] = []
        self.loaded = False
        change_bus().changed.connect(self._on_changed)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & notifications.CHANGED or "*" in areas:
            self.refresh()

    def refresh(self) -> None:
        spawn(self._refresh_count())
        if self.loaded:
            spawn(self._load())

    def load(self) -> None:
        spawn(self._load())

    async def _refresh_count(self) -> None:
        try:
            count = (await notifications.unread_count(self.api)).unread
        except ApiError:
            return
        if count != self.unread:
            self.unread = count
            self.count_changed.emit(count)

    async def _load(self) -> None:
        try:
            page = await notifications.list_notifications(self.api, limit=LATEST)
        except ApiError:
            return
        self.items = page.items
        self.loaded = True
        self.items_changed.emit()

    def mark_read(self, parent: QWidget, ids: list[int] | None) -> None:
        operations.run(parent, notifications.mark_read(self.api, MarkRead(ids=ids)), changed=notifications.CHANGED)


class NotificationRow(QWidget):
    def __init__(self, item: NotificationOut) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(10)
        dot = QLabel()
        if item.read_at is None:
            dot.setProperty("role", "unreadDot")
        else:
            dot.setFixedWidth(8)
        layout.addWidget(dot, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(2)
        title = QLabel(item.title)
        title.setWordWrap(True)
        if item.read_at is None:
            title.setStyleSheet("font-weight: 600;")
        text.addWidget(title)
        if item.body:
            body = QLabel(item.body)
            body.setWordWrap(True)
            body.setProperty("role", "muted")
            text.addWidget(body)
        text.addStretch(1)
        layout.addLayout(text, 1)
        when = QLabel(format.ago(item.created_at))
        when.setToolTip(format.moment(item.created_at))
        when.setProperty("role", "caption")
        layout.addWidget(when, 0, Qt.AlignmentFlag.AlignTop)


class NotificationsPopup(PopupFrame):
    """The list that drops down from the bell."""

    def __init__(self, center: NotificationCenter, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.center = center
        self.setFixedWidth(380)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 8)
        layout.setSpacing(4)
        head = QHBoxLayout()
        head.setContentsMargins(16, 4, 10, 6)
        title = QLabel("Notifications")
        title.setProperty("role", "heading")
        head.addWidget(title)
        head.addStretch(1)
        self.mark_all = QPushButton("Mark all as read")
        self.mark_all.setProperty("role", "link")
        self.mark_all.clicked.connect(lambda: center.mark_read(self, None))
        head.addWidget(self.mark_all)
        layout.addLayout(head)
        self.stack = QStackedWidget()
        self.list = QListWidget()
        self.list.setObjectName("notificationList")
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.empty = EmptyState("bell", "You're all caught up", "New notifications will show up here.")
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack)
        center.items_changed.connect(self._render)
        self._render()

    def _render(self) -> None:
        self.list.clear()
        for item in self.center.items:
            entry = QListWidgetItem()
            entry.setData(Qt.ItemDataRole.UserRole, item.id)
            entry.setData(Qt.ItemDataRole.AccessibleTextRole, item.title)
            row = NotificationRow(item)
            layout = row.layout()
            if layout is not None and layout.hasHeightForWidth():
                height = layout.totalHeightForWidth(ROW_WIDTH)
            else:
                height = row.sizeHint().height()
            entry.setSizeHint(QSize(ROW_WIDTH, height))
            self.list.addItem(entry)
            self.list.setItemWidget(entry, row)
        self.stack.setCurrentWidget(self.list if self.center.items else self.empty)
        self.mark_all.setEnabled(any(i.read_at is None for i in self.center.items))
        rows = sum(self.list.sizeHintForRow(i) for i in range(min(self.list.count(), 6)))
        self.stack.setFixedHeight(max(120, min(440, rows + 2)) if self.center.items else 240)
        self.adjustSize()

    def _activated(self, entry: QListWidgetItem) -> None:
        ident = entry.data(Qt.ItemDataRole.UserRole)
        item = next((i for i in self.center.items if i.id == ident), None)
        if item is not None and item.read_at is None:
            self.center.mark_read(self, [item.id])

    def show_under(self, anchor: QWidget) -> None:
        self.center.load()
        self.adjustSize()
        corner = anchor.mapToGlobal(QPoint(anchor.width(), anchor.height() + 6))
        self.move(corner.x() - self.width(), corner.y())
        self.show()
        self.list.setFocus()
