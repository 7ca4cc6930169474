"""The Stock module as a warehouse person uses it, against the real server: a receipt entered by
typing SKUs and Enter (as a barcode scanner does) and validated, after which the overview shows
the goods; a delivery beyond what is available refused with the product and the available quantity
shown at its line, nothing moved; a transfer between two warehouses; an inventory count with a
reason; the product's history listing every move with its document and the running quantity that
explains the final figure; the low-stock threshold set in the history and the rows highlighted; a
colleague's validated receipt arriving live; the export; the warehouses manager."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.session import Session
from crm_desktop.views.stock.document_editor import StockDocumentWindow
from crm_desktop.views.stock.history import ProductHistoryWindow
from crm_desktop.views.stock.overview import StockPage
from crm_desktop.widgets.line_grid import LineGrid, Mode
from crm_server.contract.stock import StockDocumentOut
from tests.desktop.conftest import Desk
from tests.support import LiveServer

# --- set-up through the API (not what these tests are about) --------------------------------------


def make_product(desk: Desk, api: ApiClient, sku: str, name: str) -> dict[str, Any]:
    rate = desk.run(api.get("/api/tax-rates"))[0]["id"]
    return dict(
        desk.run(
            api.post(
                "/api/products",
                {"sku": sku, "name": name, "unit_price": "10", "tax_rate_id": rate, "stock_tracked": True},
            )
        )
    )


def make_warehouse(desk: Desk, api: ApiClient, name: str) -> dict[str, Any]:
    return dict(desk.run(api.post("/api/warehouses", {"name": name, "address": f"{name} street 1"})))


def receive(desk: Desk, api: ApiClient, warehouse_id: int, product_id: int, quantity: str) -> dict[str, Any]:
    draft = desk.run(
        api.post(
            "/api/stock/documents",
            {
                "kind": "receipt",
                "warehouse_id": warehouse_id,
                "lines": [{"product_id": product_id, "quantity": quantity}],
            },
        )
    )
    return dict(desk.run(api.post(f"/api/stock/documents/{draft['id']}/validate", {"version": draft["version"]})))


def on_hand(desk: Desk, api: ApiClient, product_id: int, warehouse_id: int) -> Decimal:
    rows = desk.run(api.get("/api/stock/levels", product_id=product_id, warehouse_id=warehouse_id))["items"]
    return Decimal(rows[0]["on_hand"]) if rows else Decimal(0)


# --- driving the screens as a person --------------------------------------------------------------


def open_page(desk: Desk, qtbot: QtBot, api: ApiClient) -> tuple[Session, StockPage]:
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    page = StockPage(session)
    qtbot.addWidget(page)
    page.resize(1280, 760)
    page.show()
    desk.wait_until(lambda: not page.is_busy())
    return session, page


def new_document(desk: Desk, qtbot: QtBot, page: StockPage, kind: str) -> StockDocumentWindow:
    before = QApplication.topLevelWidgets()  # held, so no new wrapper can take an old one's place
    qtbot.mouseClick(page.new_buttons[kind], Qt.MouseButton.LeftButton)
    window = next(
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, StockDocumentWindow) and all(w is not b for b in before)
    )
    desk.wait_until(lambda: not window.is_busy() and window.warehouse.count() > 1)
    window.activateWindow()
    return window


def scan(desk: Desk, qtbot: QtBot, window: StockDocumentWindow, sku: str) -> None:
    """Type a SKU into the scan field and press Enter, like a barcode scanner."""
    qtbot.keyClicks(window.grid.entry, sku)
    qtbot.keyClick(window.grid.entry, Qt.Key.Key_Return)
    desk.wait_until(lambda: not window.is_busy())


def set_quantity(qtbot: QtBot, window: StockDocumentWindow, row: int, text: str) -> None:
    """Type over the line's quantity cell."""
    cell = window.grid.cell(row, "quantity")
    assert isinstance(cell, QLineEdit) and not cell.isReadOnly()
    cell.selectAll()
    qtbot.keyClicks(cell, text)


def note(window: StockDocumentWindow, row: int) -> str:
    """The note beside a line (what an adjustment moved, or the server's refusal of the line)."""
    item = window.grid.table.item(row, window.grid.keys.index("note"))
    assert item is not None
    return item.text()


def choose(combo: Any, data: Any) -> None:
    i = combo.findData(data)
    assert i >= 0, f"{data} is not offered"
    combo.setCurrentIndex(i)


def confirm(desk: Desk, window: StockDocumentWindow) -> None:
    box = window.confirm_box
    assert box is not None and box.isVisible()
    accept = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    accept.click()
    desk.wait_until(lambda: not window.is_busy())


def validate(desk: Desk, qtbot: QtBot, window: StockDocumentWindow) -> None:
    qtbot.mouseClick(window.validate_button, Qt.MouseButton.LeftButton)
    confirm(desk, window)


def level_rows(page: StockPage) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(SKU, warehouse) -> (on hand, reserved, available) as the overview shows them."""
    m = page.overview.model
    return {
        (m.data(m.index(i, 0)), m.data(m.index(i, 2))): (
            m.data(m.index(i, 3)),
            m.data(m.index(i, 4)),
            m.data(m.index(i, 5)),
        )
        for i in range(m.rowCount())
    }


def test_receipt_delivery_transfer_count_and_the_history_that_explains_them(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    main = make_warehouse(desk, api, "Main")
    widget = make_product(desk, api, "W-1", "Widget")
    _session, page = open_page(desk, qtbot, api)
    assert page.overview.model.total == 0 and page.overview.table.empty.title.text() == "No stock yet"

    # A receipt typed in with the scanner: W-1 + Enter twice is one line of 2; an unknown SKU is said.
    receipt = new_document(desk, qtbot, page, "receipt")
    assert receipt.warehouse.currentData() == main["id"]  # the only warehouse is chosen already
    scan(desk, qtbot, receipt, "w-1")
    assert receipt.line_quantities() == [("W-1", "1")]
    scan(desk, qtbot, receipt, "W-1")
    assert receipt.line_quantities() == [("W-1", "2")]
    scan(desk, qtbot, receipt, "NOPE-9")
    entry = receipt.grid.entry
    assert errors.is_marked(entry) and entry.toolTip() == "No product with SKU NOPE-9."
    assert entry.hasFocus() and entry.selectedText() == entry.text() == "NOPE-9"  # the next scan types over it
    assert receipt.line_quantities() == [("W-1", "2")]
    # A quantity the server would refuse is said before anything is sent, at its cell.
    set_quantity(qtbot, receipt, 0, "-2")
    qtbot.mouseClick(receipt.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not receipt.is_busy())
    problem = "Line 1 (W-1), quantity: a number of 0 or more with at most 3 decimals."
    assert receipt.notice.text() == problem and note(receipt, 0) == problem
    assert receipt.grid.is_marked(0, "quantity") and receipt.document is None  # nothing saved
    set_quantity(qtbot, receipt, 0, "10")
    assert receipt.line_quantities() == [("W-1", "10")]
    validate(desk, qtbot, receipt)
    assert receipt.document is not None and receipt.document.status == "validated"
    assert receipt.badge.text() == "Validated" and receipt.reverse_button.isVisible()
    assert not receipt.grid.entry.isEnabled() and not receipt.validate_button.isVisible()
    desk.wait_until(
        lambda: level_rows(page) == {("W-1", "Main"): ("10", "0", "10")},
        message="the overview did not show the received goods",
    )

    # A delivery of 15 when 10 are there: refused at its line, naming the product and what is available.
    delivery = new_document(desk, qtbot, page, "delivery")
    scan(desk, qtbot, delivery, "W-1")
    set_quantity(qtbot, delivery, 0, "15")
    validate(desk, qtbot, delivery)
    refusal = "Not enough Widget (W-1) in Main: 10 available, 15 needed."
    assert delivery.notice.isVisible() and delivery.notice.text() == refusal
    assert note(delivery, 0) == refusal
    assert errors.is_marked(delivery.grid.cell(0, "quantity"))
    assert delivery.document is not None and delivery.document.status == "draft"  # saved, not moved
    assert on_hand(desk, api, widget["id"], main["id"]) == Decimal(10)
    qtbot.mouseClick(delivery.cancel_button, Qt.MouseButton.LeftButton)
    confirm(desk, delivery)
    assert delivery.document.status == "cancelled" and delivery.badge.text() == "Cancelled"

    # A transfer of 4 to the shop.
    shop = make_warehouse(desk, api, "Shop")
    transfer = new_document(desk, qtbot, page, "transfer")
    assert transfer.to_box.isVisible() and not receipt.to_box.isVisible()
    choose(transfer.warehouse, main["id"])
    choose(transfer.to_warehouse, shop["id"])
    scan(desk, qtbot, transfer, "W-1")
    set_quantity(qtbot, transfer, 0, "4")
    validate(desk, qtbot, transfer)
    assert transfer.document is not None and transfer.document.status == "validated"
    desk.wait_until(
        lambda: level_rows(page) == {("W-1", "Main"): ("6", "0", "6"), ("W-1", "Shop"): ("4", "0", "4")},
        message="the overview did not follow the transfer",
    )

    # The shop counts 3: without a reason it is refused at the reason field; with one, 1 is written off.
    count = new_document(desk, qtbot, page, "adjustment")
    assert (
        count.reason.isVisible()
        and count.grid.table.horizontalHeaderItem(count.grid.keys.index("quantity")).text() == "Counted"
    )
    choose(count.warehouse, shop["id"])
    for _ in range(3):
        scan(desk, qtbot, count, "W-1")
    assert count.line_quantities() == [("W-1", "3")]
    validate(desk, qtbot, count)
    assert errors.is_marked(count.reason)
    assert count.reason.toolTip() == "An inventory adjustment needs a reason."
    assert count.document is not None and count.document.status == "draft"
    qtbot.keyClicks(count.reason, "Yearly count")
    validate(desk, qtbot, count)
    assert count.document.status == "validated"
    assert note(count, 0) == "Moved -1"
    desk.wait_until(lambda: level_rows(page).get(("W-1", "Shop")) == ("3", "0", "3"))

    # The history: every move with its document and the running quantity that ends at 9.
    page.activateWindow()
    desk.wait_until(lambda: page.isActiveWindow())
    page.overview.table.select_key(f"{widget['id']}:{main['id']}")
    page.overview.table.view.setFocus()
    desk.wait_until(lambda: page.overview.table.view.hasFocus())
    qtbot.keyClick(page.overview.table.view, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    history = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ProductHistoryWindow))
    desk.wait_until(lambda: not history.is_busy() and history.model.total == 4)
    assert history.title.text() == "Widget (W-1)"
    assert history.shown_moves() == [
        (f"Receipt {receipt.document.number}", "+10", "10", "10"),
        (f"Transfer {transfer.document.number}", "-4", "6", "6"),
        (f"Transfer {transfer.document.number}", "+4", "10", "4"),
        (f"Adjustment {count.document.number}", "-1", "9", "3"),
    ]
    m = history.model
    assert [m.data(m.index(i, 2)) for i in range(4)] == ["Main", "Main", "Shop", "Shop"]
    assert {m.data(m.index(i, 3)) for i in range(4)} == {"Admin"}  # who: the signed-in user
    assert history.totals.text().startswith("On hand 9")
    # Enter on a move opens its document.
    history.table.view.selectRow(3)
    opened = history.open_document()
    assert opened is count

    # Reversing the receipt would take 10 out of Main, where 6 are left: refused, said in the window.
    receipt.activateWindow()
    qtbot.mouseClick(receipt.reverse_button, Qt.MouseButton.LeftButton)
    confirm(desk, receipt)
    assert receipt.notice.text() == "Not enough Widget (W-1) in Main: 6 available, 10 needed."
    assert receipt.document.status == "validated"
    # Reversing the count makes an opposite, validated adjustment (+1 in the shop) and opens it.
    count.activateWindow()
    qtbot.mouseClick(count.reverse_button, Qt.MouseButton.LeftButton)
    confirm(desk, count)
    desk.wait_until(
        lambda: any(
            isinstance(w, StockDocumentWindow)
            and w.document is not None
            and w.document.reverses_id == count.document.id
            for w in QApplication.topLevelWidgets()
        ),
        message="the reversal did not open",
    )
    reversal = next(
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, StockDocumentWindow) and w.document is not None and w.document.reverses_id == count.document.id
    )
    assert reversal.document is not None and reversal.document.status == "validated"
    assert reversal.title.text().startswith("Adjustment ADJ-")
    desk.wait_until(lambda: count.badge.text() == "Reversed", message="the original did not show it was reversed")
    desk.wait_until(lambda: history.model.total == 5 and not history.is_busy())
    assert history.shown_moves()[-1] == (f"Adjustment {reversal.document.number}", "+1", "10", "4")
    assert on_hand(desk, api, widget["id"], shop["id"]) == Decimal(4)


def test_low_stock_highlight_live_colleague_export_and_warehouses(desk: Desk, qtbot: QtBot, tmp_path: Path) -> None:
    api = desk.signed_in_api()
    main = make_warehouse(desk, api, "Main")
    bolt = make_product(desk, api, "B-7", "Bolt")
    nut = make_product(desk, api, "N-3", "Nut")
    receive(desk, api, main["id"], bolt["id"], "5")
    receive(desk, api, main["id"], nut["id"], "50")
    _session, page = open_page(desk, qtbot, api)
    desk.wait_until(lambda: page.overview.model.total == 2)
    model = page.overview.model

    # The threshold is set in the product's history; 5 available is below 8: the bolt's row turns red.
    page.overview.table.select_key(f"{bolt['id']}:{main['id']}")
    history = page.overview.open_history()
    assert isinstance(history, ProductHistoryWindow)
    desk.wait_until(lambda: not history.is_busy() and history.product is not None)
    qtbot.keyClicks(history.threshold, "8")
    qtbot.keyClick(history.threshold, Qt.Key.Key_Return)
    desk.wait_until(lambda: history.product is not None and history.product.low is True)
    assert history.totals.text().endswith("below its threshold")

    def low_rows() -> dict[str, bool]:
        return {
            r.sku: model.data(model.index(i, 0), Qt.ItemDataRole.BackgroundRole) is not None
            for i, r in enumerate(model.rows())
        }

    desk.wait_until(lambda: low_rows() == {"B-7": True, "N-3": False}, message="the low row was not highlighted")
    assert model.data(model.index(0, 6)) == "0" and model.data(model.index(0, 7)) == "8"
    page.overview.low_only.click()
    desk.wait_until(lambda: not page.overview.is_busy() and [r.sku for r in model.rows()] == ["B-7"])
    page.overview.low_only.click()
    desk.wait_until(lambda: not page.overview.is_busy() and model.total == 2)

    # Sorting by a header the server supports: on hand, largest first on the second click.
    header = page.overview.table.view.horizontalHeader()
    header.sectionClicked.emit(3)
    desk.wait_until(lambda: not page.overview.is_busy() and [r.sku for r in model.rows()] == ["B-7", "N-3"])
    header.sectionClicked.emit(3)
    desk.wait_until(lambda: not page.overview.is_busy() and [r.sku for r in model.rows()] == ["N-3", "B-7"])

    # A colleague on another desktop validates a receipt of 2.5 bolts: the overview follows live.
    colleague = desk.signed_in_api("wendy@example.com", role="Warehouse")
    receive(desk, colleague, main["id"], bolt["id"], "2.5")
    desk.wait_until(
        lambda: level_rows(page).get(("B-7", "Main")) == ("7.5", "0", "7.5"),
        message="the colleague's receipt did not arrive live",
    )
    desk.wait_until(
        lambda: history.model.total == 2 and not history.is_busy(), message="the open history did not follow"
    )
    assert history.shown_moves()[-1][1:] == ("+2.5", "7.5", "7.5")

    # Export the filtered list (search "bolt") to Excel.
    qtbot.keyClicks(page.overview.search, "bolt")
    desk.wait_until(lambda: not page.overview.is_busy() and model.total == 1)
    path = tmp_path / "stock.xlsx"
    with LiveServer.run(desk.server.database_url, worker=True):  # an export is a job: a worker writes it
        qtbot.mouseClick(page.overview.export_button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: getattr(page.overview, "export_dialog", None) is not None, message="no dialog")
        dialog = page.overview.export_dialog
        desk.wait_until(lambda: dialog.export.state.value == "done", timeout=60, message=dialog.status.text())
    assert dialog.export.rows_done == 1
    desk.run(dialog.save_to(str(path)))
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 2 and (row["SKU"], row["Product name"], row["Warehouse name"]) == ("B-7", "Bolt", "Main")
    amounts = ("On hand", "Reserved", "Available", "Incoming", "Low threshold")
    assert [Decimal(str(row[k])) for k in amounts] == [Decimal("7.5"), 0, Decimal("7.5"), 0, 8]

    # The warehouses manager: add one, rename it, deactivate it.
    dialog = page.open_warehouses()
    desk.wait_until(lambda: not dialog.is_busy() and len(dialog.warehouses) == 1)
    dialog.table.clearSelection()
    dialog.name.setText("")
    qtbot.keyClicks(dialog.name, "Depot")
    qtbot.keyClicks(dialog.address, "Harbour 3")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not dialog.is_busy() and sorted(w.name for w in dialog.warehouses) == ["Depot", "Main"])
    dialog.name.selectAll()
    qtbot.keyClicks(dialog.name, "North depot")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not dialog.is_busy() and dialog.notice.text() == "Saved North depot.")
    qtbot.mouseClick(dialog.active_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not dialog.is_busy() and dialog.active_button.text() == "Reactivate")
    stored = {w["name"]: w["active"] for w in desk.run(api.get("/api/warehouses"))}
    assert stored == {"Main": True, "North depot": False}
    # A duplicate name is refused next to the name field.
    dialog.table.clearSelection()
    dialog.name.setText("Main")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not dialog.is_busy())
    assert errors.is_marked(dialog.name)
    dialog.close()

    # A receipt without its destination warehouse cannot be validated, and says so at the warehouse box.
    receipt = new_document(desk, qtbot, page, "receipt")
    receipt.warehouse.setCurrentIndex(0)  # "Choose a warehouse…"
    scan(desk, qtbot, receipt, "N-3")
    scan(desk, qtbot, receipt, "B-7")
    assert receipt.line_quantities() == [("N-3", "1"), ("B-7", "1")]
    receipt.grid.table.selectRow(1)
    receipt.grid.table.setFocus()
    desk.wait_until(lambda: receipt.grid.table.hasFocus())
    qtbot.keyClick(receipt.grid.table, Qt.Key.Key_Delete)  # the scanned bolt was a mistake
    assert receipt.line_quantities() == [("N-3", "1")]
    validate(desk, qtbot, receipt)
    assert errors.is_marked(receipt.warehouse)
    assert receipt.warehouse.toolTip() == "A receipt needs a destination warehouse to be validated."
    assert receipt.document is not None and receipt.document.status == "draft"
    assert on_hand(desk, api, nut["id"], main["id"]) == Decimal(50)


def test_a_salesperson_reads_stock_but_is_offered_no_changes(desk: Desk, qtbot: QtBot) -> None:
    """Stock view only: no New … buttons, no Warehouses…, no export; a draft opens read-only in effect
    (no Save, Validate or Cancel), and the history offers no threshold button."""
    admin = desk.signed_in_api()
    main = make_warehouse(desk, admin, "Main")
    gear = make_product(desk, admin, "G-1", "Gear")
    receive(desk, admin, main["id"], gear["id"], "3")
    draft = desk.run(
        admin.post(
            "/api/stock/documents",
            {"kind": "delivery", "warehouse_id": main["id"], "lines": [{"product_id": gear["id"], "quantity": "1"}]},
        )
    )
    seller = desk.signed_in_api("sam@example.com", role="Salesperson")
    session, page = open_page(desk, qtbot, seller)
    desk.wait_until(lambda: level_rows(page) == {("G-1", "Main"): ("3", "0", "3")})
    assert not any(b.isVisible() for b in page.new_buttons.values())
    assert not page.warehouses_button.isVisible() and not page.overview.export_button.isVisible()

    page.tabs.setCurrentWidget(page.documents)
    desk.wait_until(lambda: not page.documents.is_busy() and page.documents.model.total == 2)
    page.documents.table.select_key(draft["id"])
    window = page.documents.open_selected()
    assert isinstance(window, StockDocumentWindow)
    desk.wait_until(lambda: window.document is not None and not window.is_busy())
    assert window.title.text() == f"Delivery {draft['number']}"
    assert window.line_quantities() == [("G-1", "1")]
    assert not (
        window.save_button.isVisible() or window.validate_button.isVisible() or window.cancel_button.isVisible()
    )
    assert not window.grid.entry.isEnabled() and not window.warehouse.isEnabled()

    page.tabs.setCurrentWidget(page.overview)
    page.overview.table.select_key(f"{gear['id']}:{main['id']}")
    qtbot.mouseClick(page.overview.history_button, Qt.MouseButton.LeftButton)
    history = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ProductHistoryWindow))
    desk.wait_until(lambda: not history.is_busy() and history.model.total == 1)
    assert history.threshold.isReadOnly() and not history.threshold_button.isVisible()
    del session


def test_the_line_grid_in_stock_mode_takes_scans_typed_quantities_and_refusals(desk: Desk, qtbot: QtBot) -> None:
    """The one LineGrid (widgets/line_grid.py) in its stock mode, against the real lookup: a scanned
    SKU adds a line, the same SKU again adds one, an unknown SKU is told at the entry; quantities are
    typed with a comma or a point; a bad one and the server's refusal are told at the line (its cell
    and its note); Ctrl+Delete and Ctrl+Z; a validated count shows what it moved, read-only."""
    api = desk.signed_in_api()
    main = make_warehouse(desk, api, "Main")
    widget = make_product(desk, api, "W-1", "Widget")
    tool = make_product(desk, api, "T-2", "Tool")
    session = Session(api, desk.run(auth.me(api)))
    grid = LineGrid(session, mode=Mode.STOCK)
    qtbot.addWidget(grid)
    grid.resize(900, 400)
    grid.show()

    def scan_sku(sku: str) -> None:
        qtbot.keyClicks(grid.entry, sku)
        qtbot.keyClick(grid.entry, Qt.Key.Key_Return)
        desk.wait_until(lambda: not grid.is_busy())

    scan_sku("W-1")
    scan_sku("w-1")
    scan_sku("T-2")
    assert grid.line_quantities() == [("W-1", "2"), ("T-2", "1")] and grid.count_label.text() == "2 lines"
    assert grid.entry.text() == "" and "Added T-2 - Tool" in grid.entry_note.text()
    scan_sku("NOPE-1")
    assert errors.is_marked(grid.entry) and "No product with SKU NOPE-1" in grid.entry.toolTip()
    assert grid.line_count() == 2
    grid.entry.clear()

    quantity = grid.cell(1, "quantity")
    assert isinstance(quantity, QLineEdit)
    quantity.selectAll()
    qtbot.keyClicks(quantity, "1,5")
    assert grid.lines_in() == [
        {"product_id": widget["id"], "quantity": "2"},
        {"product_id": tool["id"], "quantity": "1.5"},
    ]
    quantity.selectAll()
    qtbot.keyClicks(quantity, "-1")
    problem = grid.problem()
    assert problem is not None and problem.startswith("Line 2 (T-2), quantity")
    assert grid.is_marked(1, "quantity") and grid.table.item(1, grid.keys.index("note")).text() == problem
    quantity.selectAll()
    qtbot.keyClicks(quantity, "3")
    assert not grid.is_marked(1, "quantity") and grid.problem() is None

    # The server's refusal of a line lands on it (as a failed validation names "lines.0.quantity").
    grid.lines_in()
    assert grid.show_error("lines.0.quantity", "Not enough Widget (W-1) in Main: 0 available, 2 needed.")
    assert grid.is_marked(0, "quantity") and "0 available" in grid.table.item(0, grid.keys.index("note")).text()
    assert not grid.show_error("lines.5.quantity", "no such line") and not grid.show_error("warehouse_id", "x")

    focus_cell = grid.cell(1, "quantity")
    focus_cell.setFocus()
    desk.wait_until(focus_cell.hasFocus)
    qtbot.keyClick(focus_cell, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    assert grid.line_quantities() == [("W-1", "2")] and "Ctrl+Z" in grid.undo_label.text()
    qtbot.keyClick(grid.cell(0, "quantity"), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert grid.line_quantities() == [("W-1", "2"), ("T-2", "3")]

    # A validated count: what it moved beside each line, nothing editable, no scanning.
    receive(desk, api, main["id"], widget["id"], "5")
    draft = desk.run(
        api.post(
            "/api/stock/documents",
            {
                "kind": "adjustment",
                "warehouse_id": main["id"],
                "reason": "Yearly count",
                "lines": [{"product_id": widget["id"], "quantity": "3"}],
            },
        )
    )
    counted = desk.run(api.post(f"/api/stock/documents/{draft['id']}/validate", {"version": draft["version"]}))
    grid.set_counting(True)
    grid.set_lines(StockDocumentOut.model_validate(counted).lines)
    grid.set_read_only(True)
    header = grid.table.horizontalHeaderItem(grid.keys.index("quantity"))
    assert header is not None and header.text() == "Counted"
    assert grid.line_quantities() == [("W-1", "3")]
    assert grid.table.item(0, grid.keys.index("note")).text() == "Moved -2"
    counted_cell = grid.cell(0, "quantity")
    assert isinstance(counted_cell, QLineEdit) and counted_cell.isReadOnly() and not grid.entry.isVisible()
    grid.remove_line(0)
    assert grid.line_count() == 1
