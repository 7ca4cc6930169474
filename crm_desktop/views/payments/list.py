"""The payments page: every payment the user may see (through its invoice), newest first, with
search, method and period filters; Enter or a double click opens the invoice it settles.

The list follows the change bus: a payment recorded here or on another desktop announces its
invoice ("invoices" areas), which reloads the list."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QLabel, QVBoxLayout, QWidget

from crm_desktop import operations
from crm_desktop.session import Session
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel

Row = dict[str, Any]
PAGE_SIZE = 100
REFRESH_AREAS = frozenset({"*", "invoices", "invoices.invoice"})
METHODS = [("Bank transfer", "transfer"), ("Card", "card"), ("Cash", "cash"), ("Stripe", "stripe"),
           ("Other", "other")]
METHOD_LABELS = dict((value, label) for label, value in METHODS)
SORTABLE = {0: "paid_on", 1: "amount"}  # column -> the server's sort key


def amount_text(row: Row) -> str:
    return f"{Decimal(row['amount']):,.2f} {row['currency']}"


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

        columns = [
            Column("Paid on", lambda r: r["paid_on"]),
            Column("Amount", amount_text, align_right=True),
            Column("Method", lambda r: METHOD_LABELS.get(r["method"], r["method"])),
            Column("Reference", lambda r: r.get("reference") or "—"),
            Column("Invoice", lambda r: r.get("invoice_number") or f"#{r['invoice_id']}"),
            Column("Client", lambda r: r.get("client_name") or "—"),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(self.model, "Payments recorded on invoices show up here.", icon="payments",
                                empty_title="No payments yet")
        self.table.set_noun("payment", "payments")
        view = self.table.view
        view.setAccessibleName("Payments")
        for column, width in enumerate((110, 140, 120, 200, 170, 260)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by_column)
        view.activated.connect(lambda _: self.open_selected())

        title = QLabel("Payments")
        title.setProperty("role", "title")
        sub = QLabel("Money received on invoices. Enter opens the invoice; record a payment from its invoice.")
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
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self.reload)
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    async def _fetch(self, offset: int, limit: int) -> dict[str, Any]:
        return dict(await self.api.get("/api/payments", offset=offset, limit=limit, **self.query()))

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    def reload(self) -> None:
        filtered = any(k != "sort" for k in self.query())
        self.table.empty_title = "No payments match" if filtered else "No payments yet"
        self.table.empty_text = ("Try another search, or clear the filters." if filtered
                                 else "Payments recorded on invoices show up here.")
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        header = self.table.view.horizontalHeader()
        key = SORTABLE.get(column)
        if key is None:
            current = next(c for c, k in SORTABLE.items() if k == self.sort.lstrip("-"))
            header.setSortIndicator(current, Qt.SortOrder.DescendingOrder if self.sort.startswith("-")
                                    else Qt.SortOrder.AscendingOrder)
            return
        descending = not (key == self.sort.lstrip("-") and self.sort.startswith("-"))
        self.sort = f"-{key}" if descending else key
        header.setSortIndicator(column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
        self.reload()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if areas & REFRESH_AREAS:
            self._refresh_timer.start()

    def open_selected(self) -> QWidget | None:
        row = self.table.current_row()
        if row is None:
            return None
        from crm_desktop.views.invoices.editor import open_invoice

        return open_invoice(self, self.session, row["invoice_id"])

    def is_busy(self) -> bool:
        return self.model.loading
