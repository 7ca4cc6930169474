"""The products page: search and filters, the server-paged catalogue, New product (Ctrl+N), Enter
edits, Deactivate / Reactivate (products are never deleted: documents point at them).

The list follows the change bus: a save here or on another desktop ("products" areas) reloads it
and keeps the selected product selected."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QPushButton, QVBoxLayout, QWidget

from crm_desktop import format, operations, tasks, theme
from crm_desktop.api import products
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.exports import export_action
from crm_desktop.views.imports import ImportWizard, open_wizard
from crm_desktop.views.products.editor import ProductDialog
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
from crm_server.contract.products import ProductOut, ProductQuery, TaxRateOut

log = logging.getLogger(__name__)

PAGE_SIZE = 100
SORTABLE = {0: "sku", 1: "name", 3: "unit_price"}  # column -> the server's sort key


def price_text(row: ProductOut) -> str:
    return format.money(row.unit_price, row.currency)


def _muted(row: ProductOut) -> str | None:
    return None if row.active else theme.tone("neutral")


class ProductsPage(QWidget):
    """Everything of the Products module; the editor is a dialog (editor.ProductDialog)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.sort = "name"
        self.tax_rates: list[TaxRateOut] = []

        self.filters = FilterBar()
        self.search = self.filters.add_search("q", "Search SKU or name…")
        self.status = self.filters.add_choice(
            "status", "Status", [("Inactive", "inactive"), ("All", "all")], any_label="Active"
        )
        self.tracked = self.filters.add_choice(
            "stock_tracked", "Stock", [("Stock tracked", True), ("Not tracked", False)], any_label="Tracked or not"
        )
        self.filters.changed.connect(self.reload)

        columns: list[Column[ProductOut]] = [
            Column("SKU", lambda r: r.sku, color=_muted),
            Column("Name", lambda r: r.name, color=_muted, tooltip=lambda r: r.description),
            Column("Unit", lambda r: r.unit, color=_muted),
            Column("Price", price_text, color=_muted, align_right=True),
            Column("VAT", lambda r: r.tax_rate_name or "—", color=_muted),
            Column("Tracked", lambda r: "Yes" if r.stock_tracked else "—", color=_muted),
            Column("Active", lambda r: "Yes" if r.active else "Inactive", color=_muted),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Press Ctrl+N to add your first product.", icon="products", empty_title="No products yet"
        )
        self.table.set_noun("product", "products")
        view = self.table.view
        view.setAccessibleName("Products")
        for column, width in enumerate((120, 300, 70, 130, 140, 80, 80)):
            view.setColumnWidth(column, width)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.header_sort = HeaderSort(self, SORTABLE)
        view.activated.connect(lambda _: self.edit_selected())
        self.keep = KeepSelected(self.table, self._update_actions)

        can_create = session.can("products", "create")
        can_edit = session.can("products", "edit")
        self.new_button = QPushButton("New product")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New product (Ctrl+N)")
        self.new_button.clicked.connect(self.new_product)
        shown_if(self.new_button, can_create)
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Edit the selected product (Enter)")
        self.edit_button.clicked.connect(self.edit_selected)
        shown_if(self.edit_button, can_edit)
        self.active_button = QPushButton("Deactivate")
        self.active_button.clicked.connect(self.toggle_active)
        shown_if(self.active_button, can_edit)
        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("productsImport")
        self.import_button.setToolTip("Import products with their opening stock from Excel or CSV")
        self.import_button.clicked.connect(lambda: self.import_file())
        shown_if(self.import_button, session.can("products", "import"))
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)
        self.notice = notice_label()

        root = QVBoxLayout(self)
        root.setContentsMargins(32, 24, 32, 16)
        root.setSpacing(12)
        root.addWidget(
            title_bar(
                "Products", "What you sell, with prices and VAT. Enter edits one; Ctrl+N adds one.", self.new_button
            )
        )
        self.filters.add_trailing(self.import_button)
        self.filters.add_trailing(self.active_button)
        self.filters.add_trailing(self.edit_button)
        self.export_button = export_action(
            self, session, "products", lambda: ProductQuery.model_construct(**self.query())
        )
        self.filters.add_trailing(self.export_button)
        root.addWidget(self.filters)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)

        new = QShortcut(QKeySequence(QKeySequence.StandardKey.New), self)
        new.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        new.activated.connect(self.new_product)
        reload = QShortcut(QKeySequence(Qt.Key.Key_F5), view)
        reload.setContext(Qt.ShortcutContext.WidgetShortcut)
        reload.activated.connect(self.reload)
        self.live = LiveReload(self, products.WATCHED, self.reload, on_change=self._on_changed)
        self._rates_task = tasks.spawn(self._load_rates())
        self._update_actions()
        self.reload()

    # --- loading ---------------------------------------------------------------------------------

    async def _load_rates(self) -> None:
        try:
            self.tax_rates = await products.tax_rates(self.api)
        except ApiError as exc:
            log.info("VAT rates did not load: %s", exc.message)

    def query(self) -> dict[str, Any]:
        return {**self.filters.values(), "sort": self.sort}

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[ProductOut]:
        query = ProductQuery.model_validate({**self.query(), "offset": offset, "limit": limit, "after": after})
        return await products.list_products(self.api, query)

    def reload(self) -> None:
        """From the top with the filters as they are now, keeping the selected product selected."""
        show_empty_state(
            self.table, self.query(), "No products yet", "Press Ctrl+N to add your first product.", "No products match"
        )
        self.keep.remember()
        self.model.reload()

    def sort_by_column(self, column: int) -> None:
        self.header_sort.click(column)

    def _on_changed(self, areas: frozenset[str]) -> None:
        """A VAT rate changed: the rate names shown come again (the reload is LiveReload's)."""
        if areas & ({"*"} | products.TAX_RATES_CHANGED):
            self._rates_task = tasks.spawn(self._load_rates())

    def import_file(self) -> ImportWizard | None:
        """Import…: the import wizard on products (views/imports/)."""
        if not self.session.can("products", "import"):
            return None
        return open_wizard(self, self.session.api, self.session.me, "products", events=self.session.events)

    def _update_actions(self) -> None:
        row = self.table.current_row()
        self.edit_button.setEnabled(row is not None)
        self.active_button.setEnabled(row is not None)
        active = row is None or row.active
        self.active_button.setText("Deactivate" if active else "Reactivate")
        self.active_button.setToolTip(
            "Hide it from new documents; it stays on old ones" if active else "Offer it again on new documents"
        )

    # --- actions ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def new_product(self) -> ProductDialog | None:
        if not self.session.can("products", "create"):
            return None
        dialog = ProductDialog(self.session, self.tax_rates, parent=self)
        dialog.saved.connect(lambda p: self._saved(p, "created"))
        dialog.open()
        return dialog

    def edit_selected(self) -> ProductDialog | None:
        row = self.table.current_row()
        if row is None or not self.session.can("products", "edit"):
            return None
        dialog = ProductDialog(self.session, self.tax_rates, product=row, parent=self)
        dialog.saved.connect(lambda p: self._saved(p, "saved"))
        dialog.open()
        return dialog

    def _saved(self, product: ProductOut, what: str) -> None:
        self.keep.select(product.id)
        self.say(f"{product.sku} {product.name} is {what}.")

    def toggle_active(self) -> None:
        row = self.table.current_row()
        if row is None or not self.session.can("products", "edit"):
            return
        action = "deactivate" if row.active else "reactivate"
        call = products.deactivate_product if row.active else products.reactivate_product

        def done(product: ProductOut) -> None:
            self.say(f"{product.sku} {product.name} is {action}d.")

        operations.run(
            self,
            call(self.api, row.id, row.version),
            success=done,
            changed=products.CHANGED,
            busy=self.active_button,
        )

    def is_busy(self) -> bool:
        return self.model.loading or not self._rates_task.done()
