"""The edits kept on this computer while the server was away (crm_desktop.outbox): the status bar's
"1 change waiting" opens this list; each row says which record, when it was saved and whether it
still waits or was refused once the server was back (and why). The person may discard one, or ask
to send now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons
from crm_desktop.outbox import Outbox, Waiting
from crm_desktop.widgets.visibility import shown_if

WAITING_TEXT = "Waiting for the server"


def indicator_text(outbox: Outbox) -> str:
    """The status bar's words: how many changes wait, and how many were refused."""
    parts = []
    if waiting := len(outbox.waiting):
        parts.append(f"{waiting} change{'s' if waiting != 1 else ''} waiting to be sent")
    if failed := len(outbox.failed):
        parts.append(f"{failed} not saved")
    return " · ".join(parts)


class OutboxButton(QToolButton):
    """The status bar's indicator; hidden while nothing waits."""

    def __init__(self, outbox: Outbox, parent: QWidget) -> None:
        super().__init__(parent)
        self.outbox = outbox
        self.setObjectName("outboxButton")
        self.setAutoRaise(True)
        self.setIcon(icons.icon("inbox"))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Changes saved on this computer while the server was away")
        outbox.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        if not shiboken6.isValid(self):
            return
        text = indicator_text(self.outbox)
        self.setText(text)
        self.setAccessibleName(text or "No changes waiting")
        shown_if(self, bool(text))


class OutboxDialog(QDialog):
    def __init__(self, outbox: Outbox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outbox = outbox
        self.setObjectName("outboxDialog")
        self.setWindowTitle("Changes waiting to be sent")
        self.resize(640, 320)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "These changes were saved on this computer while the server could not be reached. "
            "They are sent by themselves, once each, as soon as it is back.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Record", "Saved", "State"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        layout.addWidget(self.table, 1)
        self.empty = QLabel("Nothing is waiting: every change reached the server.", self)
        self.empty.setProperty("role", "muted")
        layout.addWidget(self.empty)
        row = QHBoxLayout()
        self.discard_button = QPushButton("Discard change", self)
        self.discard_button.setObjectName("discardChange")
        self.discard_button.clicked.connect(self.discard_selected)
        self.send_button = QPushButton("Send now", self)
        self.send_button.setObjectName("sendNow")
        self.send_button.clicked.connect(self.outbox.start)
        row.addWidget(self.discard_button)
        row.addWidget(self.send_button)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        row.addWidget(buttons)
        layout.addLayout(row)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        outbox.changed.connect(self.refresh)
        self.refresh()

    @property
    def shown(self) -> list[Waiting]:
        return list(self.outbox.entries)

    def refresh(self) -> None:
        if not shiboken6.isValid(self):
            return
        entries = self.shown
        self.table.setRowCount(0)
        for entry in entries:
            row = self.table.rowCount()
            self.table.insertRow(row)
            what = QTableWidgetItem(entry.what)
            what.setData(Qt.ItemDataRole.UserRole, entry.key)
            saved = QTableWidgetItem(format.ago(entry.saved_at))
            saved.setToolTip(format.moment(entry.saved_at))
            state = QTableWidgetItem(WAITING_TEXT if entry.failed is None else f"Not saved: {entry.failed}")
            state.setToolTip(state.text())
            self.table.setItem(row, 0, what)
            self.table.setItem(row, 1, saved)
            self.table.setItem(row, 2, state)
        self.table.resizeRowsToContents()
        shown_if(self.empty, not entries)
        shown_if(self.table, bool(entries))
        self.send_button.setEnabled(bool(self.outbox.waiting))
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.discard_button.setEnabled(bool(self.table.selectedItems()))

    def select(self, row: int) -> None:
        self.table.selectRow(row)

    def discard_selected(self) -> None:
        """Forget the chosen change: it is never sent (the record keeps the server's values)."""
        items = self.table.selectedItems()
        if not items:
            return
        first = self.table.item(items[0].row(), 0)
        if first is not None:
            self.outbox.discard(str(first.data(Qt.ItemDataRole.UserRole)))


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Hook of ``python -m crm_desktop.screenshots``: the status bar's indicator and the list, with
    one change waiting and one refused after the server came back (shown, never sent nor kept)."""
    outbox: Outbox = ctx.session.outbox
    now = datetime.now(UTC)
    outbox.entries = [
        Waiting(key="shot-1", method="PATCH", path="/api/leads/12", body={}, saved_at=now - timedelta(minutes=4)),
        Waiting(
            key="shot-2",
            method="PATCH",
            path="/api/clients/7",
            body={},
            saved_at=now - timedelta(minutes=9),
            failed="Someone else changed this record after you opened it. Reload to see their version.",
        ),
    ]
    outbox.changed.emit()
    yield "outbox-indicator", ctx.main
    dialog = ctx.main.show_outbox()
    dialog.select(1)
    yield "outbox", dialog
    dialog.close()
    outbox.entries = []
    outbox.changed.emit()
