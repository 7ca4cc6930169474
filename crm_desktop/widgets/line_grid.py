"""LineGrid: the document-lines editor shared by invoices and proposals (product or free text,
quantity, unit price, discount, VAT rate) with live totals under it.

API (keep it small; proposals and invoices both build on it):

    grid = LineGrid(session, parent)      # loads the VAT rates and the VAT rounding rule itself
                                          # (GET /api/tax-rates, GET /api/sales-settings)
    grid.set_currency("EUR")              # minor unit used for the live figures
    grid.set_lines(invoice["lines"])      # list of LineOut dicts; leaves one empty line if none
    grid.lines_in() -> list[dict]         # LineIn dicts for the server, Decimals as strings,
                                          # blank lines left out (see `sent_rows`)
    grid.problem() -> str | None          # first local problem ("Line 2, quantity: …"), cells marked
    grid.show_error("lines.1.quantity", message) -> bool   # a server field error on its cell
    grid.set_read_only(True)              # issued documents: nothing editable
    grid.changed                          # Signal(): the person changed something
    grid.totals() -> money.Totals         # net / tax / gross as shown in the strip
    grid.cell(row, "quantity")            # the editor widget of one cell (tests, focus)
    grid.add_line(), grid.remove_line(row), grid.undo_remove()

Keyboard: Tab / Enter move to the next cell, Enter on the last cell adds a line, Shift+Tab goes
back, Ctrl+Delete removes the current line (Delete does on a blank line), Ctrl+Z (when the cell
has no typing to undo) brings the last removed line back. Product cells complete over
GET /api/products?q= ; picking a product fills description, unit price and VAT rate.

The figures here are a preview computed with crm_server.money (the server's own rules); the
server's figures after a save are the truth and are what `set_lines` shows."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal
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

from crm_desktop import tasks
from crm_desktop.api.client import ApiError
from crm_server import money

log = logging.getLogger(__name__)

Row = dict[str, Any]
# (key, title, width); net and gross are computed, the rest are editors.
COLUMNS = (
    ("product", "Product", 190),
    ("description", "Description", 260),
    ("quantity", "Qty", 70),
    ("unit_price", "Unit price", 100),
    ("discount_percent", "Disc. %", 70),
    ("tax_rate_id", "VAT", 130),
    ("net", "Net", 100),
    ("gross", "Gross", 100),
)
KEYS = [c[0] for c in COLUMNS]
EDITABLE = KEYS[:6]
LABELS = {
    "product_id": "product",
    "product": "product",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit price",
    "discount_percent": "discount",
    "tax_rate_id": "VAT rate",
}
ERROR_STYLE = "border: 1px solid #d93025; background: #fdecea;"


def parse_decimal(text: str) -> Decimal | None:
    """A number as typed ("1 200,50" or "3"); None when it is not a number at all."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _plain(value: Decimal) -> str:
    """A Decimal as the server takes it: no exponent, no float."""
    return format(value, "f")


class LineGrid(QWidget):
    """An editable table of document lines plus a Net / VAT / Total strip."""

    changed = Signal()

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.currency = "EUR"
        self.tax_rounding: money.TaxRounding = "line"
        self.read_only = False
        self.tax_rates: list[Row] = []
        self.sent_rows: list[int] = []  # grid row of each line lines_in() returned, for server errors
        self._rows: list[dict[str, Any]] = []  # per row: widgets by key, product_id, line id
        self._removed: list[tuple[int, Row]] = []
        self._quiet = False
        self._products: dict[str, Row] = {}  # completer text -> product
        self._search_task: asyncio.Task[None] | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("lineGrid")
        self.table.setAccessibleName("Lines")
        self.table.setHorizontalHeaderLabels([c[1] for c in COLUMNS])
        self.table.setTabKeyNavigation(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(34)
        header = self.table.horizontalHeader()
        for i, (_, _, width) in enumerate(COLUMNS):
            self.table.setColumnWidth(i, width)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        self.add_button = QPushButton("Add line")
        self.add_button.setToolTip("Add a line (Enter on the last cell does the same)")
        self.add_button.clicked.connect(lambda: self.add_line(focus=True))
        self.remove_button = QPushButton("Remove line")
        self.remove_button.setToolTip("Remove the current line (Ctrl+Delete); Ctrl+Z brings it back")
        self.remove_button.clicked.connect(lambda: self.remove_line(self.current_row()))
        self.undo_label = QLabel()
        self.undo_label.setProperty("role", "muted")
        self.net_label = QLabel()
        self.tax_label = QLabel()
        self.gross_label = QLabel()
        self.gross_label.setProperty("role", "title")
        for label, name in (
            (self.net_label, "totalNet"),
            (self.tax_label, "totalTax"),
            (self.gross_label, "totalGross"),
        ):
            label.setObjectName(name)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        strip = QHBoxLayout()
        strip.addWidget(self.add_button)
        strip.addWidget(self.remove_button)
        strip.addWidget(self.undo_label)
        strip.addStretch(1)
        strip.addWidget(self.net_label)
        strip.addSpacing(18)
        strip.addWidget(self.tax_label)
        strip.addSpacing(18)
        strip.addWidget(self.gross_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.table, 1)
        layout.addLayout(strip)

        remove = QShortcut(QKeySequence("Ctrl+Delete"), self)
        remove.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        remove.activated.connect(lambda: self.remove_line(self.current_row()))
        self.add_line()
        self._rates_task = tasks.spawn(self._load_rates())
        self._recalc()

    # --- public API ------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return not self._rates_task.done() or (self._search_task is not None and not self._search_task.done())

    def set_currency(self, code: str) -> None:
        self.currency = (code or "EUR").upper()
        self._recalc()

    def set_lines(self, lines: list[Row]) -> None:
        """Show lines as the server has them (LineOut dicts); not a change by the person."""
        self._quiet = True
        try:
            self.table.setRowCount(0)
            self._rows.clear()
            self._removed.clear()
            self.undo_label.clear()
            for line in lines:
                self.add_line(line)
            if not lines and not self.read_only:
                self.add_line()
        finally:
            self._quiet = False
        self._recalc()
        ids = {line["product_id"] for line in lines if line.get("product_id") is not None}
        if ids:
            tasks.spawn(self._label_products(ids))

    async def _label_products(self, ids: set[int]) -> None:
        """The product cells of saved lines show SKU and name (the lines carry only the id)."""
        for product_id in sorted(ids):
            try:
                product = await self.api.get(f"/api/products/{product_id}")
            except ApiError:
                continue
            if not shiboken6.isValid(self):
                return
            label = f"{product['sku']} - {product['name']}"
            self._products[label] = product
            for row in self._rows:
                edit = row["widgets"]["product"]
                if row["product_id"] == product_id and not edit.text():
                    edit.setText(label)

    def lines_in(self) -> list[Row]:
        """LineIn dicts (Decimals as strings); blank lines are left out."""
        out: list[Row] = []
        self.sent_rows = []
        for i, row in enumerate(self._rows):
            if self._blank(i):
                continue
            text = self._texts(i)
            line: Row = {
                "product_id": row["product_id"],
                "description": text["description"] or None,
                "quantity": self._number_text(text["quantity"]),
                "unit_price": self._number_text(text["unit_price"]),
                "discount_percent": self._number_text(text["discount_percent"]) or "0",
                "tax_rate_id": row["widgets"]["tax_rate_id"].currentData(),
            }
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
        row = self.sent_rows[index] if index < len(self.sent_rows) else index
        key = parts[2] if len(parts) > 2 else "description"
        key = "product" if key == "product_id" else key
        if row >= len(self._rows) or key not in EDITABLE:
            return False
        self._mark(row, key, message)
        self.cell(row, key).setFocus()
        return True

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        for row in self._rows:
            for key, widget in row["widgets"].items():
                if isinstance(widget, QLineEdit):
                    widget.setReadOnly(read_only)
                    if key == "product":
                        widget.setPlaceholderText("" if read_only else "Search products…")
                    widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus if read_only else Qt.FocusPolicy.StrongFocus)
                elif key == "tax_rate_id":
                    widget.setEnabled(not read_only)
        self.add_button.setVisible(not read_only)
        self.remove_button.setVisible(not read_only)
        self.undo_label.setVisible(not read_only)

    def totals(self) -> money.Totals:
        return money.document_totals(
            [self._money_line(i) for i in self._valid_rows()], self.currency, self.tax_rounding
        )

    def cell(self, row: int, key: str) -> QWidget:
        widget: QWidget = self._rows[row]["widgets"][key]
        return widget

    def row_count(self) -> int:
        return len(self._rows)

    def current_row(self) -> int:
        focused = self.focusWidget()
        for i, row in enumerate(self._rows):
            if focused in row["widgets"].values():
                return i
        return len(self._rows) - 1

    def add_line(self, line: Row | None = None, *, focus: bool = False, at: int | None = None) -> int:
        """A new line (empty, or filled from a LineOut dict); returns its row."""
        i = len(self._rows) if at is None else at
        self.table.insertRow(i)
        line = line or {}
        widgets: dict[str, QWidget] = {}
        product = QLineEdit(line.get("product_label", ""))
        product.setPlaceholderText("Search products…")
        completer = QCompleter(QStringListModel(product), product)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        product.setCompleter(completer)
        widgets["product"] = product
        texts = {
            "description": str(line.get("description", "")),
            "quantity": self._show_quantity(line.get("quantity", "1")),
            "unit_price": str(line.get("unit_price", "")),
            "discount_percent": self._show_quantity(line.get("discount_percent", "0")),
        }
        for key, text in texts.items():
            edit = QLineEdit(text)
            if key != "description":
                edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            widgets[key] = edit
        rate = QComboBox()
        widgets["tax_rate_id"] = rate
        self._fill_rates(rate, line.get("tax_rate_id"))
        for key in ("net", "gross"):
            item = QTableWidgetItem("")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, KEYS.index(key), item)
        record = {"widgets": widgets, "product_id": line.get("product_id"), "id": line.get("id")}
        self._rows.insert(i, record)
        for key, widget in widgets.items():
            widget.setAccessibleName(f"Line {i + 1} {LABELS[key]}")
            widget.installEventFilter(self)
            self.table.setCellWidget(i, KEYS.index(key), widget)
            if isinstance(widget, QLineEdit):
                widget.textEdited.connect(lambda _t, w=widget, k=key: self._edited(w, k))
            else:
                rate.currentIndexChanged.connect(lambda _i, w=widget, k=key: self._edited(w, k))
        product.textEdited.connect(lambda text, w=product: self._search_products(w, text))
        completer.activated.connect(lambda text, w=product: self._pick_product(w, text))
        if self.read_only:
            self.set_read_only(True)
        self._renumber()
        if focus:
            product.setFocus()
        if not self._quiet:
            self._recalc()
        return i

    def remove_line(self, row: int) -> None:
        """Drop a line; Ctrl+Z brings it back. The grid always keeps one line to type into."""
        if self.read_only or not 0 <= row < len(self._rows):
            return
        snapshot = self._snapshot(row)
        self._removed.append((row, snapshot))
        self.table.removeRow(row)
        del self._rows[row]
        if not self._rows:
            self.add_line()
        self._renumber()
        self.undo_label.setText(f"Line {row + 1} removed - Ctrl+Z brings it back")
        target = min(row, len(self._rows) - 1)
        self.cell(target, "product").setFocus()
        self._recalc()
        self.changed.emit()

    def undo_remove(self) -> bool:
        if not self._removed or self.read_only:
            return False
        row, snapshot = self._removed.pop()
        if len(self._rows) == 1 and self._blank(0):  # the placeholder line the removal left
            self.table.removeRow(0)
            del self._rows[0]
        row = min(row, len(self._rows))
        self.add_line(snapshot, at=row, focus=True)
        self.undo_label.setText("")
        self.changed.emit()
        return True

    # --- rows ------------------------------------------------------------------------------------

    def _renumber(self) -> None:
        self.table.setVerticalHeaderLabels([str(i + 1) for i in range(len(self._rows))])
        for i, row in enumerate(self._rows):
            for key, widget in row["widgets"].items():
                widget.setAccessibleName(f"Line {i + 1} {LABELS[key]}")

    def _snapshot(self, i: int) -> Row:
        text = self._texts(i)
        row = self._rows[i]
        return {
            "product_label": text["product"],
            "product_id": row["product_id"],
            "id": row["id"],
            "description": text["description"],
            "quantity": text["quantity"],
            "unit_price": text["unit_price"],
            "discount_percent": text["discount_percent"],
            "tax_rate_id": row["widgets"]["tax_rate_id"].currentData(),
        }

    def _texts(self, i: int) -> dict[str, str]:
        widgets = self._rows[i]["widgets"]
        return {k: w.text().strip() for k, w in widgets.items() if isinstance(w, QLineEdit)}

    def _blank(self, i: int) -> bool:
        text = self._texts(i)
        return self._rows[i]["product_id"] is None and not text["description"] and not text["unit_price"]

    @staticmethod
    def _show_quantity(value: Any) -> str:
        """3.000 from the server shown as 3; 2.500 as 2.5."""
        number = parse_decimal(str(value))
        if number is None:
            return str(value)
        text = _plain(number)
        return text.rstrip("0").rstrip(".") if "." in text else text

    @staticmethod
    def _number_text(text: str) -> str | None:
        number = parse_decimal(text)
        return None if number is None else _plain(number)

    def _row_problems(self, i: int) -> dict[str, str]:
        """What is wrong in row i, per field, each message naming its line and field."""
        text = self._texts(i)
        row = self._rows[i]
        n = i + 1
        problems: dict[str, str] = {}
        quantity = parse_decimal(text["quantity"])
        if quantity is None:
            problems["quantity"] = f"Line {n}, quantity: a number is needed (e.g. 2 or 1.5)."
        elif quantity <= 0:
            problems["quantity"] = f"Line {n}, quantity: must be more than 0."
        price = parse_decimal(text["unit_price"])
        if text["unit_price"] and price is None:
            problems["unit_price"] = f"Line {n}, unit price: not a number."
        elif price is not None and price < 0:
            problems["unit_price"] = f"Line {n}, unit price: cannot be negative."
        elif price is None and row["product_id"] is None:
            problems["unit_price"] = f"Line {n}, unit price: a line without a product needs a price."
        discount = parse_decimal(text["discount_percent"] or "0")
        if discount is None:
            problems["discount_percent"] = f"Line {n}, discount: not a number."
        elif not Decimal(0) <= discount <= Decimal(100):
            problems["discount_percent"] = f"Line {n}, discount: between 0 and 100 %."
        if not text["description"] and row["product_id"] is None:
            problems["description"] = f"Line {n}, description: a line without a product needs one."
        if row["widgets"]["tax_rate_id"].currentData() is None and self.tax_rates:
            problems["tax_rate_id"] = f"Line {n}, VAT rate: choose one."
        return problems

    def _typing_problems(self, i: int) -> dict[str, str]:
        """Only what is wrong with what was typed (not what is still missing): shown live."""
        text = self._texts(i)
        n = i + 1
        out: dict[str, str] = {}
        for key in ("quantity", "unit_price", "discount_percent"):
            if text[key] and parse_decimal(text[key]) is None:
                out[key] = f"Line {n}, {LABELS[key]}: not a number."
        return out

    def _mark(self, i: int, key: str, message: str) -> None:
        widget = self.cell(i, key)
        widget.setProperty("invalid", True)
        widget.setStyleSheet(ERROR_STYLE)
        widget.setToolTip(message)
        widget.setAccessibleDescription(message)

    def _unmark(self, i: int, key: str) -> None:
        widget = self.cell(i, key)
        if widget.property("invalid"):
            widget.setProperty("invalid", False)
            widget.setStyleSheet("")
            widget.setToolTip("")
            widget.setAccessibleDescription("")

    def is_marked(self, row: int, key: str) -> bool:
        return bool(self.cell(row, key).property("invalid"))

    def _valid_rows(self) -> list[int]:
        return [
            i
            for i in range(len(self._rows))
            if not self._blank(i) and not self._row_problems(i) and self._rate_percent(i) is not None
        ]

    def _rate_percent(self, i: int) -> Decimal | None:
        rate_id = self._rows[i]["widgets"]["tax_rate_id"].currentData()
        rate = next((r for r in self.tax_rates if r["id"] == rate_id), None)
        return None if rate is None else Decimal(str(rate["rate"]))

    def _money_line(self, i: int) -> money.Line:
        text = self._texts(i)
        price = parse_decimal(text["unit_price"])
        return money.Line(
            quantity=parse_decimal(text["quantity"]) or Decimal(0),
            unit_price=price or Decimal(0),
            tax_rate=self._rate_percent(i) or Decimal(0),
            discount_percent=parse_decimal(text["discount_percent"] or "0") or Decimal(0),
        )

    # --- editing ---------------------------------------------------------------------------------

    def _row_of(self, widget: QObject) -> int | None:
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

    def _recalc(self) -> None:
        """Per-line net and gross, and the strip, from what is typed now."""
        valid = self._valid_rows()
        try:
            totals = self.totals()
        except (ValueError, InvalidOperation):
            return
        by_row = dict(zip(valid, totals.lines, strict=True))
        for i in range(len(self._rows)):
            line = by_row.get(i)
            for key, value in (
                ("net", None if line is None else line.net),
                ("gross", None if line is None else line.gross),
            ):
                item = self.table.item(i, KEYS.index(key))
                if item is not None:
                    item.setText("" if value is None else str(value))
        c = self.currency
        self.net_label.setText(f"Net {totals.net} {c}")
        self.tax_label.setText(f"VAT {totals.tax} {c}")
        self.gross_label.setText(f"Total {totals.gross} {c}")

    # --- VAT rates -------------------------------------------------------------------------------

    async def _load_rates(self) -> None:
        try:
            rates, sales = await asyncio.gather(self.api.get("/api/tax-rates"), self.api.get("/api/sales-settings"))
        except ApiError as exc:
            log.info("VAT rates did not load: %s", exc.message)
            return
        if not shiboken6.isValid(self):
            return
        self.tax_rates = list(rates)
        self.tax_rounding = "document" if sales["tax_rounding"] == "document" else "line"
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
            if rate.get("active", True) or rate["id"] == selected:
                combo.addItem(rate["name"], rate["id"])
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
            rate_id = row["widgets"]["tax_rate_id"].currentData()
            if rate_id is not None:
                return int(rate_id)
        active = [r for r in self.tax_rates if r.get("active", True)]
        if not active:
            return None
        return int(max(active, key=lambda r: Decimal(str(r["rate"])))["id"])

    # --- product autocomplete --------------------------------------------------------------------

    def _search_products(self, edit: QLineEdit, text: str) -> None:
        i = self._row_of(edit)
        if i is not None:
            self._rows[i]["product_id"] = None  # typed over: no longer the chosen product
        if len(text.strip()) < 1:
            return
        if self._search_task is not None and not self._search_task.done():
            self._search_task.cancel()
        self._search_task = tasks.spawn(self._fetch_products(edit, text.strip()))

    async def _fetch_products(self, edit: QLineEdit, text: str) -> None:
        await asyncio.sleep(0.15)  # typing on: only the last word is asked for
        try:
            page = await self.api.get("/api/products", q=text, limit=20)
        except ApiError as exc:
            log.info("product search failed: %s", exc.message)
            return
        if not shiboken6.isValid(edit) or edit.text().strip() != text:
            return
        labels = []
        for product in page["items"]:
            label = f"{product['sku']} - {product['name']}"
            self._products[label] = product
            labels.append(label)
        completer = edit.completer()
        model = completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(labels)
        if labels and edit.hasFocus():
            completer.complete()

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
        if product is None or i is None:
            return
        row = self._rows[i]
        row["product_id"] = product["id"]
        widgets = row["widgets"]
        widgets["description"].setText(product["name"])
        widgets["unit_price"].setText(str(product["unit_price"]))
        combo = widgets["tax_rate_id"]
        if combo.findData(product["tax_rate_id"]) < 0:
            self._fill_rates(combo, product["tax_rate_id"])
        combo.setCurrentIndex(combo.findData(product["tax_rate_id"]))
        if product.get("currency") and product["currency"] != self.currency:
            message = (
                f"Line {i + 1}, unit price: the product is priced in {product['currency']}; "
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
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        i = self._row_of(watched)
        if i is None:
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
        keys = list(self._rows[i]["widgets"])
        column = next(k for k, w in self._rows[i]["widgets"].items() if w is widget)
        position = i * len(keys) + keys.index(column) + step
        if position < 0:
            self.focusPreviousChild()
            return
        if position >= len(self._rows) * len(keys):
            if add and not self.read_only:
                self.add_line(focus=True)
                self.changed.emit()
            else:
                self.add_button.setFocus()
            return
        target = self.cell(position // len(keys), keys[position % len(keys)])
        target.setFocus()
        if isinstance(target, QLineEdit):
            target.selectAll()
        item = self.table.item(position // len(keys), KEYS.index("net"))
        if item is not None:
            self.table.scrollToItem(item)
