"""The payments page: every payment the user may see (through its invoice), newest first, with
search, method and period filters; Enter or a double click opens the invoice it settles.

Refunds show in their payment's row (what was given back, "in full" when all of it was).
The list follows the change bus: a payment recorded here or on another desktop announces its
invoice ("invoices" areas), which reloads the list."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QLabel, QVBoxLayout, QWidget

from crm_desktop import format
from crm_desktop.api import payments
from crm_desktop.session import Session
from crm_desktop.views.exports import export_action
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.list_page import HeaderSort, LiveReload, show_empty_state
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.common import Page
from crm_server.contract.invoices import PaymentMethod
from crm_server.contract.payments import PaymentQuery, PaymentRow

PAGE_SIZE = 100
REFRESH_AREAS = payments.CHANGED | {"*"}
METHODS = [(format.label(method), method.value) for method in PaymentMethod]
SORTABLE = {0: "paid_on", 1: "amount"}  # column -> the server's sort key


def refunded_text(row: PaymentRow) -> str:
    """What was given back of the payment: "—", an amount, or the amount "in full"."""
    refunded = row.refunded_total or Decimal(0)
    if not refunded:
        return "—"
    text = format.money(refunded, row.currency)
    return f"{text}, in full" if refunded >= row.amount else text


class PaymentsPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "-paid_on"

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search invoice, reference or client…")
        self.method = self.filters.add_choice("method", "Method", METHODS, any_label="Any method")
        self.period = self.filters.add_day_period("paid_from", "paid_to", "Paid")
        self.filters.changed.connect(self.reload)
        self.export_button = export_action(
            self, session, "payments", lambda: PaymentQuery.model_construct(**self.query())
        )
        self.filters.add_trailing(self.export_button)

        columns: list[Column[PaymentRow]] = [
            Column("Paid on", lambda r: format.day(r.paid_on)),
            Column("Amount", lambda r: format.money(r.amount, r.currency), align_right=True),
            Column("Refunded", refunded_text, align_right=True),
            Column("Method", lambda r: format.label(PaymentMethod(r.method))),
            Column("Reference", lambda r: r.reference or "—"),
            Column("Invoice", lambda r: r.invoice_number or f"#{r.invoice_id}"),
            Column("Client", lambda r: r.client_name or "—"),
        ]
        self._fetch = self.fetch
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Payments recorded on invoices show up here.", icon="payments", empty_title="No payments yet"
        )
        self.table.set_noun("payment", "payments")
        view = self.table.view
        view.setAccessibleName("Payments")
        for column, width in enumerate((110, 130, 110, 120, 150, 140, 200)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE, first_descending=True)
        view.activated.connect(lambda _: self.open_selected())

        title = QLabel("Payments")
        title.setProperty("role", "title")
        sub = QLabel(
            "Money received on invoices and what was refunded of it. Enter opens the invoice; record or "
            "refund a payment there."
        )
        sub.setProperty("role", "muted")
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(title)
        root.addWidget(sub)
        root.addWidget(self.filters)
        root.addWidget(self.table, 1)

        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, REFRESH_AREAS, self.reload)
        self.reload()

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def fetch(self, offset: int, limit: int, after: str | None = None) -> Page[PaymentRow]:
        """One page of the table."""
        # unchecked: the server judges it
        query = PaymentQuery.model_construct(**self.query(), offset=offset, limit=limit, after=after)
        return await payments.list_payments(self.api, query)

    def reload(self) -> None:
        show_empty_state(
            self.table,
            self.query(),
            "No payments yet",
            "Payments recorded on invoices show up here.",
            "No payments match",
        )
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        from crm_desktop.views.invoices.editor import open_invoice

        return open_invoice(self, self.session, row.invoice_id)

    def is_busy(self) -> bool:
        return self.model.loading
