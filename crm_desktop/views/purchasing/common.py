"""What the purchase order list, editor and receive dialog share: status words (the contract's, in
format.label's words) and tones, and the vendor picker (the change-bus names are api/purchasing's).
Quantities, money and days are shown by crm_desktop.format."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from crm_desktop import format, tasks
from crm_desktop.api import clients
from crm_desktop.api.client import ApiClient
from crm_server.contract.clients import ClientQuery
from crm_server.contract.purchasing import PurchaseOrderOut, PurchaseStatus

log = logging.getLogger(__name__)

S = PurchaseStatus

STATUS_LABELS = {status: format.label(status) for status in S}
STATUS_TONES = {
    S.draft: "muted",
    S.confirmed: "accent",
    S.partially_received: "warning",
    S.received: "success",
    S.cancelled: "danger",
}
OPEN = (S.confirmed, S.partially_received)
LATE_TONE = "danger"  # theme.TONES: a late purchase order in the list
CANCELLED_TONE = "neutral"


def status_label(value: str) -> str:
    return format.label(S(value))


def late(order: PurchaseOrderOut) -> bool:
    """Still expected (open) and its delivery date has passed."""
    return order.status in OPEN and order.expected_on is not None and order.expected_on < date.today()


def progress(order: PurchaseOrderOut) -> str:
    """ "3 of 5 lines received" from an order with its lines; "" when nothing is expected."""
    lines = order.lines
    if not lines or order.status == S.draft:
        return ""
    done = sum(1 for line in lines if line.received >= line.quantity)
    return f"{done} of {len(lines)} line{'s' if len(lines) != 1 else ''} received"


ID_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2


class VendorPicker(QLineEdit):
    """Type part of a vendor's name; the completer offers clients flagged as vendors
    (api/clients.list_clients with is_vendor). `vendor_id` is the chosen one, or None."""

    vendor_changed = Signal(object)  # int | None
    results_arrived = Signal(int)

    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.vendor_id: int | None = None
        self._chosen_text = ""
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setPlaceholderText("Type a vendor's name…")
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

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def _on_edited(self, text: str) -> None:
        if self.vendor_id is not None and text != self._chosen_text:
            self.vendor_id = None
            self.vendor_changed.emit(None)
        self._debounce.start()

    def search_now(self) -> None:
        self._seq += 1
        task = tasks.spawn(self._search(self.text().strip(), self._seq))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _search(self, text: str, seq: int) -> None:
        try:
            page = await clients.list_clients(self.api, ClientQuery(is_vendor=True, q=text or None, limit=10))
        except Exception as exc:  # a failed suggestion list is not worth a dialog
            log.info("vendor search failed: %s", exc)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return
        self.matches.clear()
        for vendor in page.items:
            item = QStandardItem(vendor.name)
            item.setData(vendor.id, ID_ROLE)
            item.setData(vendor.name, NAME_ROLE)
            self.matches.appendRow(item)
        self.results_arrived.emit(self.matches.rowCount())
        if self.hasFocus() and self.matches.rowCount():
            self.completer().complete()

    def _on_activated(self, index: QModelIndex) -> None:
        self.set_vendor(int(index.data(ID_ROLE)), str(index.data(NAME_ROLE)))

    def choose(self, row: int) -> None:
        """Take the row-th match (what Enter in the popup does)."""
        item = self.matches.item(row)
        self.set_vendor(int(item.data(ID_ROLE)), str(item.data(NAME_ROLE)))

    def set_vendor(self, vendor_id: int | None, name: str = "") -> None:
        self._chosen_text = name if vendor_id is not None else ""
        self.setText(name if vendor_id is not None else "")
        if vendor_id != self.vendor_id:
            self.vendor_id = vendor_id
            self.vendor_changed.emit(vendor_id)
