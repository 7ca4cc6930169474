"""The lines of a purchase order: product (by SKU or name), quantity, unit cost, the line total and,
once ordered, what was received and what remains; a live order total in Decimal.

Barcode-scanner friendly: the entry above the grid takes a SKU typed or scanned and Enter adds the
product (GET /api/stock/lookup?sku=, or the product search when the stock lookup is not allowed);
scanning the same SKU again adds one to its quantity. Typing part of a name offers matching
stock-tracked products (GET /api/products?q=&stock_tracked=true); Enter or a click takes one."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
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

from crm_desktop import tasks
from crm_desktop.api.client import ApiError
from crm_desktop.operations.errors import clear_field, mark_field
from crm_desktop.views.purchasing.common import CENT, Row, parse_decimal, qty

log = logging.getLogger(__name__)

# (key, title, width)
COLUMNS = (
    ("sku", "SKU", 110),
    ("product", "Product", 260),
    ("quantity", "Quantity", 90),
    ("unit_cost", "Unit cost", 100),
    ("total", "Line total", 110),
    ("received", "Received", 90),
    ("remaining", "Remaining", 90),
)
KEYS = [c[0] for c in COLUMNS]
READ_ONLY_CELL = "QLineEdit { border: none; background: transparent; padding-right: 4px; }"


def _plain(value: Decimal) -> str:
    return format(value, "f")


class PurchaseLines(QWidget):
    """An editable list of order lines with a scanner entry and the order total."""

    changed = Signal()  # the person changed a line
    valueChanged = Signal()  # (the name operations.errors listens to, to clear a mark)

    def __init__(self, api: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.currency = ""
        self.read_only = False
        self.show_received = False
        self.sent_rows: list[int] = []  # grid row of each line lines_in() returned, for server errors
        self._rows: list[dict[str, Any]] = []
        self._suggested: dict[str, Row] = {}  # completer text -> product
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = 0

        self.entry = QLineEdit()
        self.entry.setObjectName("skuEntry")
        self.entry.setAccessibleName("Add product by SKU or name")
        self.entry.setPlaceholderText("Scan or type a SKU and press Enter, or type part of a name…")
        self.suggestions = QStringListModel(self)
        completer = QCompleter(self.suggestions, self.entry)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated[QModelIndex].connect(lambda _: self._take_soon.start())  # type: ignore[index]
        self.entry.setCompleter(completer)
        self._search_timer = QTimer(self, singleShot=True, interval=250, timeout=self.search_now)
        self._take_soon = QTimer(self, singleShot=True, interval=0, timeout=self.take_entry)
        self.entry.textEdited.connect(lambda _: self._search_timer.start())
        self.entry.returnPressed.connect(self._take_soon.start)
        self.entry_note = QLabel("")
        self.entry_note.setObjectName("skuEntryNote")
        self.entry_note.setProperty("role", "muted")
        self.entry_note.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("purchaseLines")
        self.table.setAccessibleName("Lines")
        self.table.setHorizontalHeaderLabels([c[1] for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.verticalHeader().setVisible(False)
        for i, (_, _, width) in enumerate(COLUMNS):
            self.table.setColumnWidth(i, width)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        self.remove_button = QPushButton("Remove line")
        self.remove_button.setToolTip("Remove the selected line (Ctrl+Delete)")
        self.remove_button.clicked.connect(lambda: self.remove_line(self.current_row()))
        self.total_label = QLabel("")
        self.total_label.setObjectName("orderTotal")
        self.total_label.setProperty("role", "title")
        self.total_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "muted")

        entry_row = QHBoxLayout()
        entry_row.addWidget(self.entry, 1)
        strip = QHBoxLayout()
        strip.addWidget(self.remove_button)
        strip.addStretch(1)
        strip.addWidget(self.count_label)
        strip.addSpacing(14)
        strip.addWidget(self.total_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(entry_row)
        layout.addWidget(self.entry_note)
        layout.addWidget(self.table, 1)
        layout.addLayout(strip)
        self.setFocusProxy(self.entry)

        remove = QShortcut(QKeySequence("Ctrl+Delete"), self)
        remove.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        remove.activated.connect(lambda: self.remove_line(self.current_row()))
        self._apply_mode()
        self._recalc()

    # --- public API ------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return any(not t.done() for t in self._tasks) or self._take_soon.isActive()

    def set_currency(self, code: str) -> None:
        self.currency = code or ""
        self._recalc()

    def set_mode(self, *, read_only: bool, show_received: bool) -> None:
        """A draft's lines are edited; an ordered one's are fixed and show what came."""
        self.read_only = read_only
        self.show_received = show_received
        self._apply_mode()

    def set_lines(self, lines: list[Row]) -> None:
        """Show lines as the server has them (PurchaseLineOut dicts); not a change by the person."""
        self.table.setRowCount(0)
        self._rows.clear()
        for line in lines:
            self._append(
                {
                    "id": line["product_id"],
                    "sku": line.get("sku") or "",
                    "name": line.get("product_name") or line.get("description") or "",
                    "unit": line.get("unit") or "",
                },
                quantity=qty(line["quantity"]),
                unit_cost=str(line["unit_cost"]),
                line=line,
            )
        self._apply_mode()
        self._recalc()

    def line_count(self) -> int:
        return len(self._rows)

    def cell(self, row: int, key: str) -> QWidget | None:
        """The editor of a cell (quantity, unit_cost), for tests and focus."""
        widget = self._rows[row]["widgets"].get(key)
        return widget if isinstance(widget, QWidget) else None

    def product_ids(self) -> list[int]:
        return [int(r["product"]["id"]) for r in self._rows]

    def lines_in(self) -> list[Row]:
        """PurchaseLineIn dicts for the server (Decimals as strings)."""
        out: list[Row] = []
        self.sent_rows = []
        for i, row in enumerate(self._rows):
            widgets = row["widgets"]
            quantity = parse_decimal(widgets["quantity"].text())
            cost = parse_decimal(widgets["unit_cost"].text())
            line: Row = {
                "product_id": int(row["product"]["id"]),
                "quantity": _plain(quantity) if quantity is not None else widgets["quantity"].text(),
                "unit_cost": _plain(cost) if cost is not None else None,
            }
            if row["description"]:
                line["description"] = row["description"]
            out.append(line)
            self.sent_rows.append(i)
        return out

    def problem(self) -> str | None:
        """The first thing the server would surely refuse, named by line and field; cells marked."""
        first: str | None = None
        for i, row in enumerate(self._rows):
            widgets = row["widgets"]
            name = row["product"]["sku"] or row["product"]["name"]
            quantity = parse_decimal(widgets["quantity"].text())
            if quantity is None or quantity <= 0 or quantity.as_tuple().exponent < -3:  # type: ignore[operator]
                message = f"Line {i + 1} ({name}), quantity: a number above 0 with at most 3 decimals."
                mark_field(widgets["quantity"], message)
                first = first or message
            text = widgets["unit_cost"].text().strip()
            cost = parse_decimal(text)
            if text and (cost is None or cost < 0 or cost.as_tuple().exponent < -2):  # type: ignore[operator]
                message = f"Line {i + 1} ({name}), unit cost: an amount of 0 or more, e.g. 12.50."
                mark_field(widgets["unit_cost"], message)
                first = first or message
        return first

    def show_error(self, field: str, message: str) -> bool:
        """A server field error "lines.2.quantity" on its cell; False when it names no cell here."""
        parts = field.split(".")
        if len(parts) < 2 or parts[0] != "lines" or not parts[1].isdigit():
            return False
        k = int(parts[1])
        if k >= len(self.sent_rows):
            return False
        key = {"quantity": "quantity", "unit_cost": "unit_cost"}.get(parts[2] if len(parts) > 2 else "", "quantity")
        mark_field(self._rows[self.sent_rows[k]]["widgets"][key], message)
        return True

    def field_widgets(self) -> dict[str, QWidget]:
        """Where the server's "lines.N.field" errors land (after lines_in())."""
        out: dict[str, QWidget] = {}
        for k, i in enumerate(self.sent_rows):
            widgets = self._rows[i]["widgets"]
            out[f"lines.{k}.quantity"] = widgets["quantity"]
            out[f"lines.{k}.unit_cost"] = widgets["unit_cost"]
            out[f"lines.{k}.product_id"] = widgets["quantity"]
            out[f"lines.{k}.description"] = widgets["quantity"]
        return out

    def total(self) -> Decimal:
        """Σ quantity × unit cost, each line rounded to cents as the server does."""
        total = Decimal(0)
        for row in self._rows:
            line = self._line_total(row)
            if line is not None:
                total += line
        return total

    def current_row(self) -> int:
        return self.table.currentRow()

    # --- adding and removing -----------------------------------------------------------------------

    def add_product(self, product: Row) -> int:
        """Add a line for `product` (quantity 1), or one more of it when it has a line already."""
        for i, row in enumerate(self._rows):
            if int(row["product"]["id"]) == int(product["id"]):
                edit = row["widgets"]["quantity"]
                current = parse_decimal(edit.text()) or Decimal(0)
                edit.setText(qty(current + 1))
                self.table.selectRow(i)
                self.entry_note.setText(f"{product['sku']}: quantity {edit.text()} now.")
                self._edited()
                return i
        row = self._append(product, quantity="1", unit_cost="", line=None)
        self.table.selectRow(row)
        self.entry_note.setText(f"Added {product['sku']} - {product['name']}.")
        self._apply_mode()
        self._edited()
        return row

    def remove_line(self, row: int) -> None:
        if self.read_only or not 0 <= row < len(self._rows):
            return
        self.table.removeRow(row)
        del self._rows[row]
        self._edited()

    def take_entry(self) -> None:
        """Enter in the entry (or a suggestion clicked): a suggestion by its text, else a SKU."""
        text = self.entry.text().strip()
        if not text or self.read_only:
            return
        self._search_timer.stop()  # the suggestions for what was typed are of no use any more
        self._seq += 1
        self.entry.completer().popup().hide()
        product = self._suggested.get(text)
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

    # --- internals -------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = tasks.spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _search(self, text: str, seq: int) -> None:
        if not text:
            return
        try:
            page = await self.api.get("/api/products", q=text, stock_tracked=True, limit=10)
        except Exception as exc:  # a failed suggestion list is not worth a dialog
            log.info("product search failed: %s", exc)
            return
        if seq != self._seq or not shiboken6.isValid(self):
            return
        texts = []
        for product in page["items"]:
            label = f"{product['sku']} - {product['name']}"
            self._suggested[label] = product
            texts.append(label)
        self.suggestions.setStringList(texts)
        if self.entry.hasFocus() and texts:
            self.entry.completer().complete()

    async def _lookup(self, text: str) -> None:
        """A SKU exactly (what a scanner types); a name that matches one product will do too."""
        product: Row | None = None
        try:
            found = await self.api.get("/api/stock/lookup", sku=text)
            product = {
                "id": found["product_id"],
                "sku": found["sku"],
                "name": found["name"],
                "unit": found["unit"],
                "stock_tracked": found["stock_tracked"],
                "active": found["active"],
            }
        except ApiError as exc:
            if exc.status not in (403, 404):
                if shiboken6.isValid(self):
                    self.entry_note.setText(exc.message)
                return
            try:
                page = await self.api.get("/api/products", q=text, status="all", limit=10)
            except ApiError as again:
                if shiboken6.isValid(self):
                    self.entry_note.setText(again.message)
                return
            items = page["items"]
            exact = [p for p in items if str(p["sku"]).lower() == text.lower()]
            product = exact[0] if exact else (items[0] if len(items) == 1 else None)
        if not shiboken6.isValid(self):
            return
        if product is None:
            mark_field(self.entry, f"No product with SKU {text}.")
            self.entry_note.setText(f"No product with SKU {text}. Type part of its name to choose from a list.")
            return
        if not product.get("stock_tracked", True):
            mark_field(self.entry, f"{product['name']} ({product['sku']}) is not stock-tracked.")
            self.entry_note.setText(
                f"{product['name']} ({product['sku']}) is not stock-tracked: it is not ordered into a warehouse."
            )
            return
        if not product.get("active", True):
            self.entry_note.setText(f"{product['name']} ({product['sku']}) is inactive.")
            return
        clear_field(self.entry)
        self.entry.clear()
        self.add_product(product)
        self.entry.setFocus()

    def _append(self, product: Row, *, quantity: str, unit_cost: str, line: Row | None) -> int:
        i = self.table.rowCount()
        self.table.insertRow(i)
        sku = QTableWidgetItem(product.get("sku") or "")
        name = QTableWidgetItem(product.get("name") or "")
        if product.get("unit"):
            name.setToolTip(f"Unit: {product['unit']}")
        self.table.setItem(i, 0, sku)
        self.table.setItem(i, 1, name)
        quantity_edit = QLineEdit(quantity)
        quantity_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        quantity_edit.setAccessibleName(f"Line {i + 1} quantity")
        cost_edit = QLineEdit(unit_cost)
        cost_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        cost_edit.setPlaceholderText("0.00")
        cost_edit.setAccessibleName(f"Line {i + 1} unit cost")
        self.table.setCellWidget(i, 2, quantity_edit)
        self.table.setCellWidget(i, 3, cost_edit)
        for column in (4, 5, 6):
            item = QTableWidgetItem("")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, column, item)
        if line is not None:
            self.table.item(i, 5).setText(qty(line.get("received", 0)))
            self.table.item(i, 6).setText(qty(line.get("remaining", 0)))
        row = {
            "product": product,
            "line_id": line["id"] if line else None,
            "description": line.get("description") if line else None,
            "widgets": {"quantity": quantity_edit, "unit_cost": cost_edit},
        }
        self._rows.append(row)
        quantity_edit.textEdited.connect(lambda _: self._edited())
        cost_edit.textEdited.connect(lambda _: self._edited())
        quantity_edit.returnPressed.connect(cost_edit.setFocus)
        cost_edit.returnPressed.connect(self.entry.setFocus)  # back to the scanner for the next item
        return i

    def _apply_mode(self) -> None:
        self.entry.setVisible(not self.read_only)
        self.entry_note.setVisible(not self.read_only)
        self.remove_button.setVisible(not self.read_only)
        self.table.setColumnHidden(5, not self.show_received)
        self.table.setColumnHidden(6, not self.show_received)
        for row in self._rows:  # fixed lines read as plain text, not as fields
            for edit in row["widgets"].values():
                edit.setReadOnly(self.read_only)
                edit.setFocusPolicy(Qt.FocusPolicy.NoFocus if self.read_only else Qt.FocusPolicy.StrongFocus)
                edit.setStyleSheet(READ_ONLY_CELL if self.read_only else "")

    def _line_total(self, row: dict[str, Any]) -> Decimal | None:
        quantity = parse_decimal(row["widgets"]["quantity"].text())
        text = row["widgets"]["unit_cost"].text().strip()
        cost = parse_decimal(text) if text else Decimal(0)
        if quantity is None or cost is None:
            return None
        return (quantity * cost).quantize(CENT)

    def _edited(self) -> None:
        self._recalc()
        self.changed.emit()
        self.valueChanged.emit()

    def _recalc(self) -> None:
        for i, row in enumerate(self._rows):
            line = self._line_total(row)
            self.table.item(i, 4).setText("—" if line is None else _plain(line))
        total = self.total()
        count = len(self._rows)
        self.count_label.setText(f"{count} line{'s' if count != 1 else ''}")
        self.total_label.setText(f"Total {_plain(total.quantize(CENT))} {self.currency}".rstrip())
