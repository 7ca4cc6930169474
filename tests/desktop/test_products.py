"""The Products module driven as a person would: create a product through the dialog, a duplicate
SKU shown under the SKU field, edit a price, deactivate and reactivate, and the list following a
colleague's change."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.session import Session
from crm_desktop.views.products.editor import ProductDialog, parse_price
from crm_desktop.views.products.list import ProductsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog


def open_products(
    desk: Desk, qtbot: QtBot, email: str = "ada@example.com", role: str = "Admin", live: bool = False
) -> tuple[ApiClient, ProductsPage]:
    api = desk.signed_in_api(email, role=role)
    session = Session(api, desk.run(auth.me(api)))
    if live:
        session.start()
        desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    page = ProductsPage(session)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total is not None)
    return api, page


def skus(page: ProductsPage) -> list[str]:
    return [row.sku for row in page.model.rows()]


def create(desk: Desk, api: ApiClient, page: ProductsPage, **fields: Any) -> dict[str, Any]:
    rate = next(r for r in page.tax_rates if r.name == "Standard 19%")
    payload = {"name": "Widget", "unit_price": "10.00", "tax_rate_id": rate.id, **fields}
    return dict(desk.run(api.post("/api/products", payload)))


def test_parse_price() -> None:
    assert str(parse_price(" 1 200,5 ")) == "1200.5"
    assert parse_price("1.005") is None and parse_price("-1") is None and parse_price("abc") is None


def test_create_through_the_dialog_and_a_duplicate_sku_is_shown_at_the_field(desk: Desk, qtbot: QtBot) -> None:
    api, page = open_products(desk, qtbot)
    assert page.table.empty.isVisible() and "Ctrl+N" in page.table.empty.text.text()
    focus(desk, page.search)
    qtbot.keyClick(page.search, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = the_dialog(ProductDialog)
    qtbot.keyClicks(dialog.sku, "HW-001")
    qtbot.keyClicks(dialog.name, "Barcode scanner")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert errors.is_marked(dialog.unit_price) and dialog.isVisible()  # no price yet: told at once
    qtbot.keyClicks(dialog.unit_price, "149,90")
    dialog.tax_rate.setCurrentIndex(dialog.tax_rate.findText("Reduced 9%"))
    dialog.stock_tracked.setChecked(True)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: skus(page) == ["HW-001"], message="the new product is not in the list")
    assert not shiboken6.isValid(dialog)
    row = page.model.rows()[0]
    assert (str(row.unit_price), row.currency, row.tax_rate_name, row.stock_tracked) == (
        "149.90",
        "EUR",
        "Reduced 9%",
        True,
    )
    assert page.model.data(page.model.index(0, 3)) == "149.90 EUR"
    assert "HW-001 Barcode scanner is created." in page.notice.text()

    # The same SKU in other letters: refused by the server, shown under the SKU field.
    focus(desk, page.search)
    qtbot.keyClick(page.search, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    again = the_dialog(ProductDialog)
    qtbot.keyClicks(again.sku, "hw-001")
    qtbot.keyClicks(again.name, "Another scanner")
    qtbot.keyClicks(again.unit_price, "99")
    qtbot.mouseClick(again.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: errors.is_marked(again.sku), message="the SKU field was not marked")
    assert "SKU exists already" in again.sku.toolTip()
    assert not errors.is_marked(again.name) and again.isVisible()
    again.reject()
    assert desk.run(api.get("/api/products"))["total"] == 1


def test_edit_price_then_deactivate_and_reactivate(desk: Desk, qtbot: QtBot) -> None:
    api, page = open_products(desk, qtbot, live=True)
    create(desk, api, page, sku="SRV-1", name="Consulting", unit="h", unit_price="80.00")
    made = create(desk, api, page, sku="SRV-2", name="Training", unit="h", unit_price="60.00")
    desk.wait_until(lambda: skus(page) == ["SRV-1", "SRV-2"], message="the live event did not reload the list")
    assert page.table.select_key(made["id"])
    focus(desk, page.table.view)
    qtbot.keyClick(page.table.view, Qt.Key.Key_Return)
    dialog = the_dialog(ProductDialog)
    assert dialog.sku.text() == "SRV-2" and dialog.unit.currentText() == "h"
    dialog.unit_price.selectAll()
    qtbot.keyClicks(dialog.unit_price, "65.5")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible())
    desk.wait_until(
        lambda: [str(r.unit_price) for r in page.model.rows()] == ["80.00", "65.50"],
        message="the new price is not shown",
    )
    stored = desk.run(api.get(f"/api/products/{made['id']}"))
    assert stored["unit_price"] == "65.50" and stored["version"] == made["version"] + 1

    desk.wait_until(lambda: page.table.current_row() is not None and page.table.current_row().id == made["id"])
    assert page.active_button.text() == "Deactivate"
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: skus(page) == ["SRV-1"], message="the inactive product is still listed")
    assert not desk.run(api.get(f"/api/products/{made['id']}"))["active"]
    page.status.setCurrentIndex(page.status.findText("Inactive"))
    desk.wait_until(lambda: skus(page) == ["SRV-2"] and not page.model.loading)
    assert page.table.select_key(made["id"])
    assert page.active_button.text() == "Reactivate"
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: skus(page) == [], message="the reactivated product is still in the inactive list")
    assert desk.run(api.get(f"/api/products/{made['id']}"))["active"]


def test_a_salesperson_sees_the_catalogue_but_no_buttons(desk: Desk, qtbot: QtBot) -> None:
    admin_api, admin_page = open_products(desk, qtbot)
    create(desk, admin_api, admin_page, sku="A-1")
    _api, page = open_products(desk, qtbot, "sam@example.com", role="Salesperson")
    assert skus(page) == ["A-1"]
    assert not page.new_button.isVisibleTo(page) and not page.edit_button.isVisibleTo(page)
    assert page.new_product() is None
