"""LineGrid: the one editor of a document's lines, in three modes (a column spec each):

- Mode.SALES (invoices, proposals): product or free text, quantity, unit price, discount, VAT rate,
  with the line's net and gross and a Net / VAT / Total strip. Each line's product cell completes
  over GET /api/products?q= ; picking a product fills description, unit price and VAT rate. The VAT
  rates and the VAT rounding rule load by themselves (GET /api/tax-rates, GET /api/sales-settings).
- Mode.STOCK (stock documents): SKU, product, unit, quantity and a note (what an adjustment moved,
  or the server's refusal of that line).
- Mode.PURCHASE (purchase orders): SKU, product, quantity, unit cost, the line total and, once
  ordered, what was received and what remains, with the order's total.

In the stock and purchase modes lines are added the way a barcode scanner types: the entry above
the grid takes a SKU and Enter adds the product (GET /api/stock/lookup?sku=, or the product search
when the lookup is not allowed), the same SKU again adds one to its quantity; typing part of a name
offers matching stock-tracked products (GET /api/products?q=&stock_tracked=true).

    grid = LineGrid(session_or_api, parent, mode=Mode.SALES)
    grid.set_currency("EUR")              # the figures' currency
    grid.set_lines(lines)                 # the server's lines (contract line models); not a change by the person
    grid.lines_in() -> list[dict]         # the request body's lines (Decimals as strings); blank lines left out
    grid.problem() -> str | None          # first local problem ("Line 2, quantity: …"), cells marked
    grid.show_error("lines.1.quantity", message) -> bool   # a server field error on its cell
    grid.field_widgets() -> {"lines.N.field": cell}        # for operations.run(fields=...)
    grid.set_read_only(True)              # issued / validated / ordered: nothing editable
    grid.changed                          # Signal(): the person changed something
    grid.cell(row, "quantity")            # the editor of one cell (tests, focus)
    grid.add_line(), grid.add_product(product), grid.remove_line(row), grid.undo_remove()
    grid.totals() -> money.Totals         # SALES: net / tax / gross as shown in the strip
    grid.total() -> Decimal               # PURCHASE: Σ quantity × unit cost
    grid.set_counting(True)               # STOCK: an inventory count ("Counted", what it moved as a note)
    typed(Decimal("1200.000")) -> "1200"  # a number put back into a field to be typed over (no separators)

Keyboard: Tab / Enter move to the next cell; Enter on a line's last cell adds a line (sales) or goes
back to the scanner entry; Shift+Tab goes back; Ctrl+Delete removes the current line (Delete does on
a blank line, or on the selected line when the table has the focus); Ctrl+Z (when the cell has no
typing to undo) brings the last removed line back.

Money and quantities are shown with crm_desktop.format; the sales figures are a preview computed
with crm_server.money (the server's own rules): the server's figures after a save are the truth
and are what `set_lines` shows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QModelIndex, QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, tasks, theme
from crm_desktop.api import products, stock
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations.errors import ERROR_PROPERTY, clear_field, mark_field
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_server import money
from crm_server.contract.invoices import LineOut
from crm_server.contract.products import ProductOut, ProductQuery, TaxRateOut
from crm_server.contract.purchasing import PurchaseLineOut
from crm_server.contract.stock import DocumentLineOut, ProductStockOut

log = logging.getLogger(__name__)

Values = dict[str, Any]  # a line as typed (what add_line takes, Ctrl+Z puts back and lines_in sends)
Product = ProductOut | ProductStockOut  # a product from the catalogue, or from the stock lookup
SavedLine = LineOut | DocumentLineOut | PurchaseLineOut  # a line as the server has it (sales, stock, purchase)
CENT = Decimal("0.01")
READ_ONLY_CELL = "QLineEdit { border: none; background: transparent; padding-right: 4px; }"


class Mode(StrEnum):
    SALES = "sales"
    STOCK = "stock"
    PURCHASE = "purchase"


@dataclass(frozen=True)
class Column:
    """One column: an editor ("product", "text", "number", "rate") or text the grid shows ("")."""

    key: str
    title: str
    width: int
    editor: str = ""
    words: str = ""  # the field in a message: "Line 2, unit price: …"
    stretch: bool = False


COLUMNS: dict[Mode, tuple[Column, ...]] = {
    Mode.SALES: (
        Column("product", "Product", 230, "product", "product"),
        Column("description", "Description", 260, "text", "description", stretch=True),
        Column("quantity", "Qty", 70, "number", "quantity"),
        Column("unit_price", "Unit price", 100, "number", "unit price"),
        Column("discount_percent", "Disc. %", 70, "number", "discount"),
        Column("tax_rate_id", "VAT", 150, "rate", "VAT rate"),
        Column("net", "Net", 100),
        Column("gross", "Gross", 100),
    ),
    Mode.STOCK: (
        Column("sku", "SKU", 130),
        Column("product", "Product", 280),
        Column("unit", "Unit", 70),
        Column("quantity", "Quantity", 110, "number", "quantity"),
        Column("note", "", 200, stretch=True),
    ),
    Mode.PURCHASE: (
        Column("sku", "SKU", 110),
        Column("product", "Product", 260, stretch=True),
        Column("quantity", "Quantity", 90, "number", "quantity"),
        Column("unit_cost", "Unit cost", 100, "number", "unit cost"),
        Column("total", "Line total", 110),
        Column("received", "Received", 90),
        Column("remaining", "Remaining", 90),
    ),
}


def _plain(value: Decimal) -> str:
    """A Decimal as the server takes it and as a field holds it: no exponent, no separators."""
    return f"{value:f}"


def typed(value: Any) -> str:
    """A number put back into a field to be typed over: 3.000 as 3, 2.500 as 2.5, 1200 as 1200
    (format.quantity's "1,200" would read back as 1.2: parse_decimal takes a lone comma for the point)."""
    number = format.parse_decimal(str(value))
    if number is None:
        return "" if value is None else str(value)
    text = _plain(number.normalize())
    return "0" if text in ("-0", "0") else text


def _typed_line(line: SavedLine) -> Values:
    """A saved line as add_line takes it: the keys a typed line has, amounts as the server writes
    them ("149.90")."""
    values: Values = {"id": line.id, "product_id": line.product_id, "quantity": line.quantity}
    if isinstance(line, LineOut):
        values.update(
            description=line.description,
            unit_price=str(line.unit_price),
            discount_percent=line.discount_percent,
            tax_rate_id=line.tax_rate_id,
        )
        return values
    values.update(sku=line.sku, product_name=line.product_name, unit=line.unit)
    if isinstance(line, PurchaseLineOut):
        values.update(
            description=line.description,
            unit_cost=str(line.unit_cost),
            received=line.received,
            remaining=line.remaining,
        )
    else:
        values["moved"] = line.moved
    return values


def _product_label(product: Product) -> str:
    return f"{product.sku} - {product.name}"


def _product_id(product: Product) -> int:
    return product.product_id if isinstance(product, ProductStockOut) else product.id


def _query(**values: Any) -> ProductQuery:
    """A product search as typed: unchecked, so the server judges it (a refusal is an ApiError)."""
    return ProductQuery.model_construct(**values)


class LineGrid(QWidget):
    """An editable table of document lines with its strip of totals (see the module's docstring)."""

    changed = Signal()  # the person changed a line
    valueChanged = Signal()  # (the name operations.errors listens to, to clear a mark on the grid)

    def __init__(self, source: Any, parent: QWidget | None = None, *, mode: Mode = Mode.SALES) -> None:
        """`source` is the session or its ApiClient."""
        super().__init__(parent)
        self.mode = mode
        self.api: ApiClient = source if isinstance(source, ApiClient) else source.api
        self.columns = COLUMNS[mode]
        self.keys = [c.key for c in self.columns]
        self.editable_keys = [c.key for c in self.columns if c.editor]
        self.words = {c.key: c.words for c in self.columns if c.editor}
        self.scanner = mode is not Mode.SALES
        self.currency = "EUR" if mode is Mode.SALES else ""
        self.tax_rounding: money.TaxRounding = "line"
        self.read_only = False
        self.show_received = False
        self.counting = False  # STOCK: an inventory count (each scan counts one, "Counted")
        self.tax_rates: list[TaxRateOut] = []
        self.sent_rows: list[int] = []  # grid row of each line lines_in() returned, for server errors
        self._rows: list[Values] = []  # per row: widgets by key, product, product_id, id, description
        self._removed: list[tuple[int, Values]] = []
        self._quiet = False
        self._products: dict[str, Product] = {}  # completer text -> product
        self._tasks: set[asyncio.Task[Any]] = set()
        self._search_task: asyncio.Task[None] | None = None
        self._seq = 0

        self.table = QTableWidget(0, len(self.columns))
        self.table.setObjectName({Mode.SALES: "lineGrid", Mode.STOCK: "stockLines"}.get(mode, "purchaseLines"))
        self.table.setAccessibleName("Lines")
        self.table.setHorizontalHeaderLabels([c.title for c in self.columns])
        self.table.setTabKeyNavigation(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        if self.scanner:
            self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            self.table.verticalHeader().setVisible(False)
        else:
            self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(38)
        for i, column in enumerate(self.columns):
            self.table.setColumnWidth(i, column.width)
            if column.stretch:
                self.table.horizontalHeader().setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch)
        keep_titles_whole(self.table)

        self.entry = QLineEdit()
        self.entry.setObjectName("skuEntry")
        self.entry.setAccessibleName("Add product by SKU or name")
        self.entry.setPlaceholderText("Scan or type a SKU and press Enter, or type part of a name…")
        self.suggestions = QStringListModel(self)
        completer = QCompleter(self.suggestions, self.entry)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.entry.setCompleter(completer)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(self.search_now)
        self._take_soon = QTimer(self)
        self._take_soon.setSingleShot(True)
        self._take_soon.timeout.connect(self.take_entry)
        self.entry.textEdited.connect(lambda _: self._search_timer.start())
        self.entry.returnPressed.connect(self._take_soon.start)
        completer.activated[QModelIndex].connect(lambda _: self._take_soon.start())  # type: ignore[index]
        self.entry_note = QLabel("")
        self.entry_note.setObjectName("skuEntryNote")
        self.entry_note.setProperty("role", "muted")
        self.entry_note.setWordWrap(True)

        self.add_button = QPushButton("Add line")
        self.add_button.setToolTip("Add a line (Enter on the last cell does the same)")
        self.add_button.clicked.connect(lambda: self.add_line(focus=True))
        self.remove_button = QPushButton("Remove line")
        self.remove_button.setToolTip("Remove the current line (Ctrl+Delete); Ctrl+Z brings it back")
        self.remove_button.clicked.connect(lambda: self.remove_line(self.current_row()))
        self.undo_label = QLabel()
        self.undo_label.setProperty("role", "muted")
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "muted")
        self.net_label = QLabel()
        self.tax_label = QLabel()
        self.gross_label = QLabel()
        self.total_label = self.gross_label  # the strip's last figure: the document's total
        self.gross_label.setProperty("role", "title")
        names = ("totalNet", "totalTax", "totalGross") if mode is Mode.SALES else ("", "", "orderTotal")
        for label, name in zip((self.net_label, self.tax_label, self.gross_label), names, strict=True):
            label.setObjectName(name)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        strip = QHBoxLayout()
        strip.addWidget(self.add_button)
        strip.addWidget(self.remove_button)
        strip.addWidget(self.undo_label)
        strip.addStretch(1)
        strip.addWidget(self.count_label)
        strip.addSpacing(14)
        strip.addWidget(self.net_label)
        strip.addSpacing(18)
        strip.addWidget(self.tax_label)
        strip.addSpacing(18)
        strip.addWidget(self.gross_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        if self.scanner:
            layout.addWidget(self.entry)
            layout.addWidget(self.entry_note)
            self.setFocusProxy(self.entry)
        layout.addWidget(self.table, 1)
        layout.addLayout(strip)

        remove = QShortcut(QKeySequence("Ctrl+Delete"), self)
        remove.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        remove.activated.connect(lambda: self.remove_line(self.current_row()))
        if self.scanner:
            delete = QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table)
            delete.setContext(Qt.ShortcutContext.WidgetShortcut)  # the table itself: its selected line
            delete.activated.connect(lambda: self.remove_line(self.current_row()))
        if mode is Mode.SALES:
            self.add_line()
            self._spawn(self._load_rates())
        self._apply_mode()
        self._recalc()

    # --- public API ------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks) or self._take_soon.isActive()

    def set_currency(self, code: str) -> None:
        self.currency = (code or ("EUR" if self.mode is Mode.SALES else "")).upper()
        self._recalc()

    def set_mode(self, *, read_only: bool, show_received: bool = False) -> None:
        """PURCHASE: a draft's lines are edited; an ordered one's are fixed and show what came."""
        self.show_received = show_received
        self.set_read_only(read_only)

    def set_counting(self, counting: bool) -> None:
        """STOCK: an inventory count: the quantity is what was counted."""
        self.counting = counting
        header = self.table.horizontalHeaderItem(self.keys.index("quantity"))
        if header is not None:
            header.setText("Counted" if counting else ("Qty" if self.mode is Mode.SALES else "Quantity"))
        self.entry.setPlaceholderText(
            "Scan or type a SKU and press Enter"
            + (" (each scan counts one)" if counting else ", or type part of a name…")
        )

    def set_lines(self, saved: Sequence[SavedLine]) -> None:
        """Show lines as the server has them; not a change by the person."""
        lines = [_typed_line(line) for line in saved]
        self._quiet = True
        try:
            self.table.setRowCount(0)
            self._rows.clear()
            self._removed.clear()
            self.undo_label.clear()
            for line in lines:
                self.add_line(line)
            if not lines and self.mode is Mode.SALES and not self.read_only:
                self.add_line()
        finally:
            self._quiet = False
        self._apply_mode()
        self._recalc()
        ids = {line["product_id"] for line in lines if line.get("product_id") is not None}
        if ids and self.mode is Mode.SALES:
            self._spawn(self._label_products(ids))

    def lines_in(self) -> list[Values]:
        """The request body's lines (Decimals as strings); blank lines are left out."""
        out: list[Values] = []
        self.sent_rows = []
        for i, row in enumerate(self._rows):
            if self._blank(i):
                continue
            text = self._texts(i)
            line: Values = {"product_id": row["product_id"], "quantity": self._number_text(text["quantity"])}
            if self.mode is Mode.SALES:
                line["description"] = text["description"] or None
                line["unit_price"] = self._number_text(text["unit_price"])
                line["discount_percent"] = self._number_text(text["discount_percent"]) or "0"
                line["tax_rate_id"] = row["widgets"]["tax_rate_id"].currentData()
            else:
                line["quantity"] = line["quantity"] or text["quantity"]  # the server names what is wrong
            if self.mode is Mode.PURCHASE:
                line["unit_cost"] = self._number_text(text["unit_cost"])
                if row["description"]:
                    line["description"] = row["description"]
            out.append(line)
            self.sent_rows.append(i)
        return out

    def problem(self) -> str | None:
        """The first thing the server would surely refuse, named by line and field; cells marked."""
        first: str | None = None
        for i in range(len(self._rows)):
            if self._blank(i):
                continue
            for key, message in self._row_problems(i).items():
                self._mark(i, key, message)
                if first is None:
                    first = message
                    self.cell(i, key).setFocus()
        return first

    def show_error(self, field: str, message: str) -> bool:
        """A server field error such as "lines.1.quantity" shown on its cell; False if not a line's."""
        parts = field.split(".")
        if len(parts) < 2 or parts[0] != "lines" or not parts[1].isdigit():
            return False
        index = int(parts[1])
        if index < len(self.sent_rows):
            row = self.sent_rows[index]
        elif self.scanner:
            return False
        else:
            row = index
        key = parts[2] if len(parts) > 2 else ""
        key = {"product_id": "product"}.get(key, key)
        if key not in self.editable_keys:
            key = "description" if self.mode is Mode.SALES else "quantity"
        if row >= len(self._rows):
            return False
        self._mark(row, key, message)
        self.cell(row, key).setFocus()
        return True

    def field_widgets(self) -> dict[str, QWidget]:
        """Where the server's "lines.N.field" errors land (after lines_in())."""
        out: dict[str, QWidget] = {}
        fallback = "description" if self.mode is Mode.SALES else "quantity"
        for k, i in enumerate(self.sent_rows):
            widgets = self._rows[i]["widgets"]
            for name in ("product_id", "description", *self.editable_keys):
                key = "product" if name == "product_id" else name
                out[f"lines.{k}.{name}"] = widgets.get(key, widgets[fallback])
        return out

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self._apply_mode()

    def totals(self) -> money.Totals:
        """SALES: the document's net, VAT and gross from what is typed now."""
        return money.document_totals(
            [self._money_line(i) for i in self._valid_rows()], self.currency, self.tax_rounding
        )

    def total(self) -> Decimal:
        """PURCHASE: Σ quantity × unit cost, each line rounded to cents as the server does."""
        return sum((t for t in (self._line_total(i) for i in range(len(self._rows))) if t is not None), Decimal(0))

    def cell(self, row: int, key: str) -> QWidget:
        widget: QWidget = self._rows[row]["widgets"][key]
        return widget

    def row_count(self) -> int:
        return len(self._rows)

    line_count = row_count

    def product_ids(self) -> list[int]:
        return [int(r["product_id"]) for r in self._rows if r["product_id"] is not None]

    def line_quantities(self) -> list[tuple[str, str]]:
        """(SKU, quantity) per line as shown (tests and screenshots)."""
        return [
            (str((r["product"] or {}).get("sku", "")), self._texts(i)["quantity"]) for i, r in enumerate(self._rows)
        ]

    def current_row(self) -> int:
        """The line being worked on: the focused cell's, else the selected one, else the last."""
        row = self._row_of(self.focusWidget())
        if row is not None:
            return row
        if self.scanner and 0 <= self.table.currentRow() < len(self._rows):
            return self.table.currentRow()
        return len(self._rows) - 1

    def set_note(self, row: int, text: str) -> None:
        """STOCK: the note beside a line (what was moved, or why the server refused it)."""
        if "note" in self.keys and 0 <= row < len(self._rows):
            self._show(row, "note", text)

    def add_line(self, line: Values | None = None, *, focus: bool = False, at: int | None = None) -> int:
        """A new line (empty, or filled from a typed line's values); returns its row."""
        i = len(self._rows) if at is None else at
        line = line or {}
        self.table.insertRow(i)
        for index, key in enumerate(self.keys):  # the shown texts sit in items; editors on top
            item = QTableWidgetItem("")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if key in ("net", "gross", "total", "received", "remaining"):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, index, item)
        product: Values | None = None
        if self.scanner:
            product = {
                "id": line.get("product_id"),
                "sku": line.get("sku") or "",
                "name": line.get("product_name") or line.get("description") or "",
                "unit": line.get("unit") or "",
            }
        record: Values = {
            "widgets": {},
            "product": product,
            "product_id": line.get("product_id"),
            "id": line.get("id"),
            "description": line.get("description"),
        }
        self._rows.insert(i, record)
        widgets: dict[str, QWidget] = record["widgets"]
        for column in self.columns:
            if column.editor == "rate":
                rate = QComboBox()
                self._fill_rates(rate, line.get("tax_rate_id"))
                rate.currentIndexChanged.connect(lambda _i, w=rate: self._edited(w, "tax_rate_id"))
                widgets[column.key] = rate
            elif column.editor:
                edit = QLineEdit(self._start_text(column.key, line))
                edit.setCursorPosition(0)  # a long product name shows its start (the SKU), not its end
                if column.editor == "number":
                    edit.setAlignment(Qt.AlignmentFlag.AlignRight)
                if column.editor == "product":
                    edit.setPlaceholderText("Search products…")
                    completer = QCompleter(QStringListModel(edit), edit)
                    completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
                    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
                    edit.setCompleter(completer)
                    edit.textEdited.connect(lambda text, w=edit: self._search_products(w, text))
                    completer.activated.connect(lambda text, w=edit: self._pick_product(w, text))
                if column.key == "unit_cost":
                    edit.setPlaceholderText("0.00")
                edit.textEdited.connect(lambda _t, w=edit, k=column.key: self._edited(w, k))
                widgets[column.key] = edit
        for key, widget in widgets.items():
            widget.installEventFilter(self)
            self.table.setCellWidget(i, self.keys.index(key), widget)
        if product is not None:
            self._show(i, "sku", product["sku"])
            self._show(i, "product", product["name"])
            self._show(i, "unit", product["unit"])
            if product["unit"] and self.mode is Mode.PURCHASE:
                self._item(i, "product").setToolTip(f"Unit: {product['unit']}")
        if self.mode is Mode.PURCHASE and line.get("received") is not None:
            self._show(i, "received", format.quantity(line.get("received", 0)))
            self._show(i, "remaining", format.quantity(line.get("remaining", 0)))
        if self.mode is Mode.STOCK and line.get("moved") is not None and self.counting:
            moved = format.parse_decimal(str(line["moved"])) or Decimal(0)
            self._show(i, "note", f"Moved {'+' if moved > 0 else ''}{format.quantity(moved)}")
        self._renumber()
        if not self._quiet:
            self._apply_mode()
        if focus:
            self.cell(i, self.editable_keys[0]).setFocus()
        if not self._quiet:
            self._recalc()
        return i

    def add_product(self, product: Product, quantity: Decimal = Decimal(1)) -> int:
        """STOCK / PURCHASE: a line for `product`, or `quantity` more of it when it has a line already."""
        product_id = _product_id(product)
        for i, row in enumerate(self._rows):
            if row["product_id"] == product_id:
                edit = row["widgets"]["quantity"]
                edit.setText(typed((format.parse_decimal(edit.text()) or Decimal(0)) + quantity))
                self.table.selectRow(i)
                self.entry_note.setText(f"{product.sku}: quantity {edit.text()} now.")
                self._edited(edit, "quantity")
                return i
        line = {"product_id": product_id, "sku": product.sku, "product_name": product.name, "unit": product.unit}
        i = self.add_line({**line, "quantity": _plain(quantity)})
        self.table.selectRow(i)
        self.entry_note.setText(f"Added {_product_label(product)}.")
        self.changed.emit()
        self.valueChanged.emit()
        return i

    def remove_line(self, row: int) -> None:
        """Drop a line; Ctrl+Z brings it back. A sales grid always keeps one line to type into."""
        if self.read_only or not 0 <= row < len(self._rows):
            return
        self._removed.append((row, self._snapshot(row)))
        self.table.removeRow(row)
        del self._rows[row]
        if not self._rows and self.mode is Mode.SALES:
            self.add_line()
        self._renumber()
        self.undo_label.setText(f"Line {row + 1} removed - Ctrl+Z brings it back")
        if self._rows:
            target = min(row, len(self._rows) - 1)
            self.cell(target, self.editable_keys[0]).setFocus()
            self.table.selectRow(target)
        elif self.scanner:
            self.entry.setFocus()
        self._recalc()
        self.changed.emit()
        self.valueChanged.emit()

    def undo_remove(self) -> bool:
        if not self._removed or self.read_only:
            return False
        row, snapshot = self._removed.pop()
        if self.mode is Mode.SALES and len(self._rows) == 1 and self._blank(0):  # the placeholder line
            self.table.removeRow(0)
            del self._rows[0]
        row = min(row, len(self._rows))
        self.add_line(snapshot, at=row, focus=True)
        self.undo_label.setText("")
        self.changed.emit()
        self.valueChanged.emit()
        return True

    def is_marked(self, row: int, key: str) -> bool:
        return bool(self.cell(row, key).property(ERROR_PROPERTY))

    # --- the scanner entry (STOCK, PURCHASE) ------------------------------------------------------

    def take_entry(self) -> None:
        """Enter in the entry (or a suggestion clicked): a suggestion by its text, else a SKU."""
        text = self.entry.text().strip()
        if not text or self.read_only:
            return
        self._search_timer.stop()  # the suggestions for what was typed are of no use any more
        self._seq += 1
        popup = self.entry.completer().popup()
        if popup is not None:
            popup.hide()
        product = self._products.get(text)
        if product is not None:
            self.entry.clear()
            self.add_product(product)
            return
        self._spawn(self._lookup(text))

    def search_now(self) -> None:
        self._seq += 1
        self._spawn(self._search(self.entry.text().strip(), self._seq))

    def suggestion_texts(self) -> list[str]:
        return list(self.suggestions.stringList())

    def choose_suggestion(self, i: int) -> None:
        """Take the i-th suggestion (what a click in the popup does)."""
        self.entry.setText(self.suggestions.stringList()[i])
        self.take_entry()

    async def _search(self, text: str, seq: int) -> None:
        if not text:
            return
        try:
            page = await products.list_products(self.api, _query(q=text, stock_tracked=True, limit=10))
        except ApiError as exc:  # a failed suggestion list is not worth a dialog
            log.info("product search failed: %s", exc.message)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return
        texts = []
        for product in page.items:
            self._products[_product_label(product)] = product
            texts.append(_product_label(product))
        self.suggestions.setStringList(texts)
        if self.entry.hasFocus() and texts:
            self.entry.completer().complete()

    async def _lookup(self, text: str) -> None:
        """A SKU exactly (what a scanner types); a name that matches one product will do too."""
        product: Product | None = None
        try:
            product = await stock.lookup(self.api, text)
        except ApiError as exc:
            if exc.status not in (403, 404):
                if shiboken6.isValid(self):
                    self.entry_note.setText(exc.message)
                return
            try:
                page = await products.list_products(self.api, _query(q=text, status="all", limit=10))
            except ApiError as again:
                if shiboken6.isValid(self):
                    self.entry_note.setText(again.message)
                return
            items = page.items
            exact = [p for p in items if p.sku.lower() == text.lower()]
            product = exact[0] if exact else (items[0] if len(items) == 1 else None)
        if not shiboken6.isValid(self):
            return
        if product is None:
            mark_field(self.entry, f"No product with SKU {text}.")
            self.entry.selectAll()  # the next scan types over it
            self.entry_note.setText(f"No product with SKU {text}. Type part of its name to choose from a list.")
            return
        if not product.stock_tracked:
            mark_field(self.entry, f"{product.name} ({product.sku}) is not stock-tracked.")
            self.entry_note.setText(
                f"{product.name} ({product.sku}) is not stock-tracked: it is not kept in a warehouse."
            )
            return
        if not product.active:
            self.entry_note.setText(f"{product.name} ({product.sku}) is inactive.")
            return
        clear_field(self.entry)
        self.entry.clear()
        self.add_product(product)
        self.entry.setFocus()

    # --- rows ------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _item(self, i: int, key: str) -> QTableWidgetItem:
        item = self.table.item(i, self.keys.index(key))
        assert item is not None
        return item

    def _show(self, i: int, key: str, text: str) -> None:
        if key in self.keys:
            self._item(i, key).setText(text)

    def _start_text(self, key: str, line: Values) -> str:
        if key == "product":
            return str(line.get("product_label", ""))
        if key == "description":
            return str(line.get("description") or "")
        if key == "quantity":
            return typed(line.get("quantity", "1"))
        if key == "discount_percent":
            return typed(line.get("discount_percent", "0"))
        return str(line.get(key) or "")  # prices as the server wrote them: "149.90"

    def _apply_mode(self) -> None:
        editable = not self.read_only
        self.entry.setVisible(self.scanner and editable)
        self.entry_note.setVisible(self.scanner and editable)
        self.add_button.setVisible(self.mode is Mode.SALES and editable)
        self.remove_button.setVisible(editable)
        self.undo_label.setVisible(editable)
        for key in ("received", "remaining"):
            if key in self.keys:
                self.table.setColumnHidden(self.keys.index(key), not self.show_received)
        for row in self._rows:  # fixed lines read as plain text, not as fields
            for key, widget in row["widgets"].items():
                if isinstance(widget, QLineEdit):
                    widget.setReadOnly(not editable)
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus if editable else Qt.FocusPolicy.ClickFocus)
                    if not widget.property(ERROR_PROPERTY):
                        widget.setStyleSheet("" if editable else READ_ONLY_CELL)
                    if key == "product":
                        widget.setPlaceholderText("Search products…" if editable else "")
                else:
                    widget.setEnabled(editable)

    def _renumber(self) -> None:
        if not self.scanner:
            self.table.setVerticalHeaderLabels([str(i + 1) for i in range(len(self._rows))])
        for i, row in enumerate(self._rows):
            for key, widget in row["widgets"].items():
                widget.setAccessibleName(f"Line {i + 1} {self.words[key]}")

    def _snapshot(self, i: int) -> Values:
        """A line as add_line takes it, from what is typed now (for Ctrl+Z)."""
        row = self._rows[i]
        snapshot: Values = {**self._texts(i), "product_id": row["product_id"], "id": row["id"]}
        if self.mode is Mode.SALES:
            snapshot["product_label"] = snapshot.pop("product")
            snapshot["tax_rate_id"] = row["widgets"]["tax_rate_id"].currentData()
        else:
            product = row["product"] or {}
            snapshot.update(sku=product.get("sku"), product_name=product.get("name"), unit=product.get("unit"))
            snapshot["description"] = row["description"]
        return snapshot

    def _texts(self, i: int) -> dict[str, str]:
        widgets = self._rows[i]["widgets"]
        return {k: w.text().strip() for k, w in widgets.items() if isinstance(w, QLineEdit)}

    def _blank(self, i: int) -> bool:
        if self.scanner:
            return False  # a scanned line always names its product
        text = self._texts(i)
        return self._rows[i]["product_id"] is None and not text["description"] and not text["unit_price"]

    @staticmethod
    def _number_text(text: str) -> str | None:
        number = format.parse_decimal(text)
        return None if number is None else _plain(number)

    def _row_problems(self, i: int) -> dict[str, str]:
        """What is wrong in row i, per field, each message naming its line and field."""
        if self.scanner:
            return self._scanned_problems(i)
        text = self._texts(i)
        row = self._rows[i]
        n = i + 1
        problems: dict[str, str] = {}
        quantity = format.parse_decimal(text["quantity"])
        if quantity is None:
            problems["quantity"] = f"Line {n}, quantity: a number is needed (e.g. 2 or 1.5)."
        elif quantity <= 0:
            problems["quantity"] = f"Line {n}, quantity: must be more than 0."
        price = format.parse_decimal(text["unit_price"])
        if text["unit_price"] and price is None:
            problems["unit_price"] = f"Line {n}, unit price: not a number."
        elif price is not None and price < 0:
            problems["unit_price"] = f"Line {n}, unit price: cannot be negative."
        elif price is None and row["product_id"] is None:
            problems["unit_price"] = f"Line {n}, unit price: a line without a product needs a price."
        discount = format.parse_decimal(text["discount_percent"] or "0")
        if discount is None:
            problems["discount_percent"] = f"Line {n}, discount: not a number."
        elif not Decimal(0) <= discount <= Decimal(100):
            problems["discount_percent"] = f"Line {n}, discount: between 0 and 100 %."
        if not text["description"] and row["product_id"] is None:
            problems["description"] = f"Line {n}, description: a line without a product needs one."
        if row["widgets"]["tax_rate_id"].currentData() is None and self.tax_rates:
            problems["tax_rate_id"] = f"Line {n}, VAT rate: choose one."
        return problems

    def _scanned_problems(self, i: int) -> dict[str, str]:
        text = self._texts(i)
        product = self._rows[i]["product"] or {}
        name = f"Line {i + 1} ({product.get('sku') or product.get('name')})"
        problems: dict[str, str] = {}
        quantity = format.parse_decimal(text["quantity"])
        too_few = quantity is not None and (quantity < 0 if self.mode is Mode.STOCK else quantity <= 0)
        if quantity is None or too_few or _places(quantity) > 3:
            above = "of 0 or more" if self.mode is Mode.STOCK else "above 0"
            problems["quantity"] = f"{name}, quantity: a number {above} with at most 3 decimals."
        if "unit_cost" in text:
            cost = format.parse_decimal(text["unit_cost"])
            if text["unit_cost"] and (cost is None or cost < 0 or _places(cost) > 2):
                problems["unit_cost"] = f"{name}, unit cost: an amount of 0 or more, e.g. 12.50."
        return problems

    def _typing_problems(self, i: int) -> dict[str, str]:
        """Only what is wrong with what was typed (not what is still missing): shown live."""
        text = self._texts(i)
        out: dict[str, str] = {}
        for key in self.editable_keys:
            column = next(c for c in self.columns if c.key == key)
            if column.editor == "number" and text[key] and format.parse_decimal(text[key]) is None:
                out[key] = f"Line {i + 1}, {self.words[key]}: not a number."
        return out

    def _mark(self, i: int, key: str, message: str) -> None:
        widget = self.cell(i, key)
        widget.setProperty(ERROR_PROPERTY, True)
        widget.setStyleSheet(f"border: 1px solid {theme.color('danger')}; background: {theme.color('danger_soft')};")
        widget.setToolTip(message)
        widget.setAccessibleDescription(message)
        if self.mode is Mode.STOCK:
            self.set_note(i, message)

    def _unmark(self, i: int, key: str) -> None:
        widget = self.cell(i, key)
        if widget.property(ERROR_PROPERTY):
            widget.setProperty(ERROR_PROPERTY, False)
            widget.setStyleSheet("" if not self.read_only or not isinstance(widget, QLineEdit) else READ_ONLY_CELL)
            widget.setToolTip("")
            widget.setAccessibleDescription("")
            if self.mode is Mode.STOCK:
                self.set_note(i, "")

    def _valid_rows(self) -> list[int]:
        return [
            i
            for i in range(len(self._rows))
            if not self._blank(i) and not self._row_problems(i) and self._rate_percent(i) is not None
        ]

    def _rate_percent(self, i: int) -> Decimal | None:
        rate_id = self._rows[i]["widgets"]["tax_rate_id"].currentData()
        rate = next((r for r in self.tax_rates if r.id == rate_id), None)
        return None if rate is None else rate.rate

    def _money_line(self, i: int) -> money.Line:
        text = self._texts(i)
        return money.Line(
            quantity=format.parse_decimal(text["quantity"]) or Decimal(0),
            unit_price=format.parse_decimal(text["unit_price"]) or Decimal(0),
            tax_rate=self._rate_percent(i) or Decimal(0),
            discount_percent=format.parse_decimal(text["discount_percent"] or "0") or Decimal(0),
        )

    def _line_total(self, i: int) -> Decimal | None:
        text = self._texts(i)
        quantity = format.parse_decimal(text.get("quantity", ""))
        cost = format.parse_decimal(text.get("unit_cost", "")) if text.get("unit_cost") else Decimal(0)
        if quantity is None or cost is None:
            return None
        return (quantity * cost).quantize(CENT)

    # --- editing ---------------------------------------------------------------------------------

    def _row_of(self, widget: QObject | None) -> int | None:
        for i, row in enumerate(self._rows):
            if widget in row["widgets"].values():
                return i
        return None

    def _edited(self, widget: QWidget, key: str) -> None:
        i = self._row_of(widget)
        if i is None or self._quiet:
            return
        if key == "product" and isinstance(widget, QLineEdit) and not widget.text().strip():
            self._rows[i]["product_id"] = None
        self._unmark(i, key)
        for bad_key, message in self._typing_problems(i).items():
            self._mark(i, bad_key, message)
        self._recalc()
        self.changed.emit()
        self.valueChanged.emit()

    def _recalc(self) -> None:
        """The lines' computed figures and the strip, from what is typed now."""
        count = len(self._rows)
        self.count_label.setText(f"{count} line{'s' if count != 1 else ''}" if self.scanner else "")
        if self.mode is Mode.PURCHASE:
            for i in range(count):
                amount = self._line_total(i)
                self._show(i, "total", format.EMPTY if amount is None else format.money(amount))
            self.total_label.setText(f"Total {format.money(self.total(), self.currency or None)}")
        if self.mode is not Mode.SALES:
            return
        valid = self._valid_rows()
        try:
            totals = self.totals()
        except (ValueError, InvalidOperation):
            return
        by_row = dict(zip(valid, totals.lines, strict=True))
        for i in range(count):
            line = by_row.get(i)
            self._show(i, "net", "" if line is None else format.money(line.net))
            self._show(i, "gross", "" if line is None else format.money(line.gross))
        c = self.currency
        self.net_label.setText(f"Net {format.money(totals.net, c)}")
        self.tax_label.setText(f"VAT {format.money(totals.tax, c)}")
        self.gross_label.setText(f"Total {format.money(totals.gross, c)}")

    # --- SALES: VAT rates and the product cells ------------------------------------------------------

    async def _load_rates(self) -> None:
        try:
            rates, sales = await asyncio.gather(products.tax_rates(self.api), products.sales_settings(self.api))
        except ApiError as exc:
            log.info("VAT rates did not load: %s", exc.message)
            return
        if not shiboken6.isValid(self):
            return
        self.tax_rates = rates
        self.tax_rounding = "document" if sales.tax_rounding == "document" else "line"
        self._quiet = True
        try:
            for row in self._rows:
                combo = row["widgets"]["tax_rate_id"]
                self._fill_rates(combo, combo.currentData())
        finally:
            self._quiet = False
        self._recalc()

    def _fill_rates(self, combo: QComboBox, selected: int | None) -> None:
        combo.blockSignals(True)
        combo.clear()
        for rate in self.tax_rates:
            if rate.active or rate.id == selected:
                combo.addItem(rate.name, rate.id)
        if selected is not None and combo.findData(selected) < 0:
            combo.addItem(f"Rate #{selected}", selected)  # rates not loaded (yet): keep the line's
        if selected is None:
            selected = self._default_rate()
        if selected is not None:
            combo.setCurrentIndex(combo.findData(selected))
        combo.blockSignals(False)

    def _default_rate(self) -> int | None:
        """A new line's VAT: the line above's, else the highest active rate (the standard one)."""
        for row in reversed(self._rows):
            combo = row["widgets"].get("tax_rate_id")
            if combo is not None and combo.currentData() is not None:
                return int(combo.currentData())
        active = [r for r in self.tax_rates if r.active]
        if not active:
            return None
        return max(active, key=lambda r: r.rate).id

    async def _label_products(self, ids: set[int]) -> None:
        """The product cells of saved lines show SKU and name (the lines carry only the id)."""
        for product_id in sorted(ids):
            try:
                product = await products.get_product(self.api, product_id)
            except ApiError:
                continue
            if not shiboken6.isValid(self):
                return
            self._products[_product_label(product)] = product
            for row in self._rows:
                edit = row["widgets"]["product"]
                if row["product_id"] == product_id and not edit.text():
                    edit.setText(_product_label(product))
                    edit.setCursorPosition(0)

    def _search_products(self, edit: QLineEdit, text: str) -> None:
        i = self._row_of(edit)
        if i is not None:
            self._rows[i]["product_id"] = None  # typed over: no longer the chosen product
        if len(text.strip()) < 1:
            return
        if self._search_task is not None and not self._search_task.done():
            self._search_task.cancel()
        self._search_task = self._spawn(self._fetch_products(edit, text.strip()))

    async def _fetch_products(self, edit: QLineEdit, text: str) -> None:
        await asyncio.sleep(0.15)  # typing on: only the last word is asked for
        try:
            page = await products.list_products(self.api, _query(q=text, limit=20))
        except ApiError as exc:
            log.info("product search failed: %s", exc.message)
            return
        if not shiboken6.isValid(edit) or edit.text().strip() != text:
            return
        labels = []
        for product in page.items:
            self._products[_product_label(product)] = product
            labels.append(_product_label(product))
        model = edit.completer().model()
        assert isinstance(model, QStringListModel)
        model.setStringList(labels)
        if labels and edit.hasFocus():
            edit.completer().complete()

    def product_suggestions(self, row: int) -> list[str]:
        """What the product cell's completer offers now (tests, screenshots)."""
        edit = self.cell(row, "product")
        assert isinstance(edit, QLineEdit)
        model = edit.completer().model()
        assert isinstance(model, QStringListModel)
        return list(model.stringList())

    def choose_product(self, row: int, label: str) -> bool:
        """Pick a suggestion as a click in the popup would."""
        edit = self.cell(row, "product")
        assert isinstance(edit, QLineEdit)
        if label not in self._products:
            return False
        edit.setText(label)
        self._pick_product(edit, label)
        return True

    def _pick_product(self, edit: QLineEdit, label: str) -> None:
        product = self._products.get(label)
        i = self._row_of(edit)
        if not isinstance(product, ProductOut) or i is None:
            return
        row = self._rows[i]
        row["product_id"] = product.id
        widgets = row["widgets"]
        widgets["description"].setText(product.name)
        widgets["unit_price"].setText(_plain(product.unit_price))
        combo = widgets["tax_rate_id"]
        if combo.findData(product.tax_rate_id) < 0:
            self._fill_rates(combo, product.tax_rate_id)
        combo.setCurrentIndex(combo.findData(product.tax_rate_id))
        if product.currency and product.currency != self.currency:
            message = (
                f"Line {i + 1}, unit price: the product is priced in {product.currency}; "
                f"give the price in {self.currency}."
            )
            self._mark(i, "unit_price", message)
        else:
            for key in ("description", "unit_price", "tax_rate_id", "product"):
                self._unmark(i, key)

        def show_label() -> None:  # the popup puts its own text back after this: ours wins
            if shiboken6.isValid(edit):
                edit.setText(label)

        QTimer.singleShot(0, show_label)
        self._recalc()
        self.changed.emit()

    # --- keyboard --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        i = self._row_of(watched)
        if i is not None and event.type() == QEvent.Type.FocusIn and self.scanner:
            self.table.selectRow(i)  # the line worked on is the selected one
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent) or i is None:
            return super().eventFilter(watched, event)
        key = event.key()
        mods = event.modifiers()
        if key == Qt.Key.Key_Z and mods == Qt.KeyboardModifier.ControlModifier:
            if not (isinstance(watched, QLineEdit) and watched.isUndoAvailable()) and self.undo_remove():
                return True
            return False
        if key == Qt.Key.Key_Delete and (
            mods == Qt.KeyboardModifier.ControlModifier
            or (
                mods == Qt.KeyboardModifier.NoModifier
                and self._blank(i)
                and len(self._rows) > 1
                and not (isinstance(watched, QLineEdit) and watched.text())
            )
        ):
            self.remove_line(i)  # Ctrl+Delete: this line; Delete: a blank line (nothing left to delete in it)
            return True
        completer = watched.completer() if isinstance(watched, QLineEdit) else None
        popup = completer.popup() if completer is not None else None
        if popup is not None and popup.isVisible():
            return False  # Enter picks the suggestion
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab) and not (
            mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        ):
            self._move(i, watched, +1, add=key != Qt.Key.Key_Tab)
            return True
        if key == Qt.Key.Key_Backtab:
            self._move(i, watched, -1, add=False)
            return True
        return super().eventFilter(watched, event)

    def _move(self, i: int, widget: QObject, step: int, *, add: bool) -> None:
        keys = self.editable_keys
        column = next(k for k, w in self._rows[i]["widgets"].items() if w is widget)
        if add and self.scanner and keys.index(column) == len(keys) - 1:
            self.entry.setFocus()  # a line done: back to the scanner for the next item
            return
        position = i * len(keys) + keys.index(column) + step
        if position < 0:
            self.focusPreviousChild()
            return
        if position >= len(self._rows) * len(keys):
            if add and not self.read_only and not self.scanner:
                self.add_line(focus=True)
                self.changed.emit()
            else:
                (self.entry if self.scanner else self.add_button).setFocus()
            return
        target = self.cell(position // len(keys), keys[position % len(keys)])
        target.setFocus()
        if isinstance(target, QLineEdit):
            target.selectAll()
        self.table.scrollToItem(self._item(position // len(keys), keys[position % len(keys)]))


def _places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
