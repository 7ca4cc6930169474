"""The invoices page: filters (status, client, issued between, overdue only, search), the server-paged
list with what is paid and open and how the sending went, New invoice (Ctrl+N), Enter opens one,
Export (Ctrl+E) of the filtered list as a job (views/exports.py).

The list follows the change bus ("invoices" areas: our own saves and, through the live stream,
every other desktop's and the jobs'): it reloads and keeps the selected invoice selected."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QCheckBox, QHeaderView, QPushButton, QVBoxLayout, QWidget

from crm_desktop import format
from crm_desktop.api import invoices
from crm_desktop.session import Session
from crm_desktop.views.exports import ExportButton, ExportProgressDialog, begin_export
from crm_desktop.views.invoices.editor import STATUS_COLORS, open_invoice
from crm_desktop.views.invoices.labels import send_label
from crm_desktop.views.proposals.party import PartyPicker
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import (
    HeaderSort,
    KeepSelected,
    LiveReload,
    notice_label,
    show_empty_state,
    title_bar,
)
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.common import Page
from crm_server.contract.invoices import InvoiceKind, InvoiceOut, InvoiceQuery, InvoiceStatus

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REFRESH_AREAS = invoices.CHANGED | {"*"}
SORTABLE = {0: "number", 2: "issue_date", 3: "due_date", 5: "gross_total"}  # column -> the server's sort key


def number_text(row: InvoiceOut) -> str:
    if row.number:
        return row.number
    return f"Draft #{row.id}"


def status_text(row: InvoiceOut) -> str:
    text = format.label(row.status)
    return f"Credit note ({text.lower()})" if row.kind == InvoiceKind.credit_note else text


def money_column(amount: Callable[[InvoiceOut], Decimal]) -> Callable[[InvoiceOut], str]:
    return lambda row: format.money(amount(row), row.currency)


def sent_text(row: InvoiceOut) -> str:
    return "—" if row.status == InvoiceStatus.draft else send_label(row)


class InvoicesPage(QWidget):
    """Everything of the Invoices module but the editor windows (editor.open_invoice)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "-created_at"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search number or client…")
        self.status = self.filters.add_choice(
            "status",
            "Status",
            [(format.label(status), status.value) for status in InvoiceStatus],
            any_label="Any status",
        )
        self.client = PartyPicker(self.api, kinds=("client",))
        self.client.setMinimumWidth(200)
        self.client.party_changed.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("client_id", self.client, lambda: self.client.client_id, "Client")
        self.period = self.filters.add_day_period("issued_from", "issued_to", "Issued")
        self.overdue = QCheckBox("Overdue only")
        self.overdue.toggled.connect(lambda _: self.filters.changed.emit())
        self.filters.add_widget("overdue", self.overdue, lambda: True if self.overdue.isChecked() else None)
        self.filters.changed.connect(self.reload)

        columns: list[Column[InvoiceOut]] = [
            Column("Number", number_text),
            Column("Client", lambda r: r.client_name or f"Client #{r.client_id}"),
            Column("Issued", lambda r: format.day(r.issue_date)),  # short titles: the list fits 1280x800
            Column("Due", lambda r: format.day(r.due_date)),
            Column("Status", status_text, color=lambda r: STATUS_COLORS.get(r.status)),
            Column("Total", money_column(lambda r: r.gross_total), align_right=True),
            Column("Paid", money_column(lambda r: r.paid_total), align_right=True),
            Column("Open", money_column(lambda r: r.open_amount), align_right=True),
            Column("Sent", sent_text, tooltip=lambda r: r.send_error),
        ]
        self._fetch = self.fetch
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Press Ctrl+N to write your first invoice.", icon="invoices", empty_title="No invoices yet"
        )
        self.table.set_noun("invoice", "invoices")
        view = self.table.view
        view.setAccessibleName("Invoices")
        for column, width in enumerate((135, 240, 100, 100, 125, 105, 105, 105, 90)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE, unsorted_column=None)
        view.activated.connect(lambda _: self.open_selected())
        self.keep = KeepSelected(self.table)

        self.new_button = QPushButton("New invoice")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New invoice (Ctrl+N)")
        self.new_button.clicked.connect(self.new_invoice)
        shown_if(self.new_button, session.can("invoices", "create"))
        self.export_button = ExportButton(self, "invoices", self.export)
        shown_if(self.export_button, session.can("invoices", "export"))
        self.notice = notice_label()

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(
            title_bar(
                "Invoices",
                "What is billed, paid and still open. Enter opens one; Ctrl+N writes a new one.",
                self.new_button,
            )
        )
        self.filters.add_trailing(self.export_button)
        root.addWidget(self.filters)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)

        for keys, slot in ((QKeySequence.StandardKey.New, self.new_invoice), ("Ctrl+E", self.export)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, REFRESH_AREAS, self.reload)
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    def query(self) -> dict[str, Any]:
        values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.filters.values().items()}
        return {**values, "sort": self.sort}

    def is_busy(self) -> bool:
        return self.model.loading or self.client.is_busy()

    def reload(self) -> None:
        """From the top with the filters as they are now, keeping the selected invoice selected."""
        show_empty_state(
            self.table,
            self.query(),
            "No invoices yet",
            "Press Ctrl+N to write your first invoice.",
            "No invoices match",
        )
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def new_invoice(self) -> QWidget | None:
        if not self.session.can("invoices", "create"):
            return None
        return open_invoice(self, self.session, None, client_id=self.client.client_id)

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        self.keep.select(row.id)
        return open_invoice(self, self.session, row.id)

    def open_record(self, type_: str, record_id: int, parent_id: int | None = None) -> None:
        """A search hit (main window): an invoice opens in its own window."""
        if type_ in ("invoice", "credit_note"):
            open_invoice(self, self.session, record_id)

    # --- export ----------------------------------------------------------------------------------

    def export(self, fmt: str = "xlsx") -> asyncio.Task[Any] | None:
        """Ctrl+E: export the invoices of the current filters as a job (views/exports.py: progress,
        Cancel, then "Save as…")."""
        if not self.session.can("invoices", "export"):
            return None
        query = InvoiceQuery.model_construct(**self.query())
        return begin_export(self, self.session, "invoices", query, fmt, opened=self._export_opened)

    def _export_opened(self, dialog: ExportProgressDialog) -> None:
        self.export_dialog = dialog

    async def fetch(self, offset: int, limit: int, after: str | None = None) -> Page[InvoiceOut]:
        """One page of the table."""
        return await invoices.list_invoices(self.api, self._query(offset, limit, after))

    def _query(self, offset: int, limit: int, after: str | None = None) -> InvoiceQuery:
        """The filters as the server's query, unchecked: the server judges what was typed."""
        return InvoiceQuery.model_construct(**self.query(), offset=offset, limit=limit, after=after)
