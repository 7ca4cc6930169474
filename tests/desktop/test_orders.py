"""The Sales orders page as a person uses it: empty at first, the web shop's order arriving live by
webhook, the status filter and the search, and the order opened in its window (lines, the skipped
line, the stock held) following the store as it completes the order."""

from __future__ import annotations

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views import modules
from crm_desktop.views.orders.detail import OrderWindow
from crm_desktop.views.orders.list import OrdersPage
from crm_server.integrations import inbox
from crm_server.integrations.models import InboxEvent
from tests.desktop.conftest import Desk
from tests.server.test_woocommerce import SECRET, fixture, headers
from tests.support import LiveServer


def shop_sends(desk: Desk, name: str, topic: str) -> None:
    """The store posts a signed webhook; the inbox's job works on it (as the worker would)."""
    server: LiveServer = desk.server
    body = fixture(name)

    async def deliver() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            answer = await client.post("/webhooks/woocommerce", content=body, headers=headers(topic, body))
            assert answer.status_code == 200, answer.text
        async with server.session() as s:
            pending = (await s.scalars(select(InboxEvent.id).where(InboxEvent.status == "pending"))).all()
        for event_id in pending:
            async with server.session() as s:
                await inbox.work(s, event_id)

    desk.on_server(deliver())


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def stocked_hoodie(desk: Desk, api: ApiClient) -> None:
    rate = desk.run(api.get("/api/tax-rates"))[0]["id"]
    hoodie = desk.run(
        api.post(
            "/api/products",
            {
                "sku": "WOO-HOODIE-BLUE",
                "name": "Hoodie - Blue",
                "unit_price": "45",
                "tax_rate_id": rate,
                "stock_tracked": True,
            },
        )
    )
    main = desk.run(api.post("/api/warehouses", {"name": "Main"}))
    receipt = desk.run(
        api.post(
            "/api/stock/documents",
            {"kind": "receipt", "warehouse_id": main["id"], "lines": [{"product_id": hoodie["id"], "quantity": "5"}]},
        )
    )
    desk.run(api.post(f"/api/stock/documents/{receipt['id']}/validate", {"version": receipt["version"]}))


def test_orders_arrive_live_and_open_with_lines_skips_and_stock(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": {"woocommerce.webhook_secret": SECRET}}))
    stocked_hoodie(desk, api)
    session = Session(api, desk.run(auth.me(api)))
    assert "orders" in [m.key for m in modules.visible_modules(session)]
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")

    page = OrdersPage(session)
    qtbot.addWidget(page)
    page.resize(1200, 640)
    page.show()
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 0)
    assert page.table.empty_title == "No web shop orders yet"

    shop_sends(desk, "order.created.json", "order.created")
    desk.wait_until(lambda: page.model.total == 1, message="the shop's order did not arrive live")
    row = page.model.rows()[0]
    assert row.number == "WC-727"
    assert [page.model.data(page.model.index(0, c)) for c in range(6)] == [
        "WC-727",
        "Processing",
        "John Doe",
        "2 (+1 skipped)",
        "Stock reserved",
        "166.60 EUR",
    ]

    page.status.setCurrentIndex(page.status.findData("completed"))
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 0, message="the status filter did not apply")
    assert page.table.empty_title == "No orders match"
    page.status.setCurrentIndex(0)
    qtbot.keyClicks(page.search, "john")
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 1, message="the search found nothing")

    page.table.select_key(row.id)
    qtbot.keyClick(page.table.view, Qt.Key.Key_Return)
    window = next(w for w in page.window().findChildren(OrderWindow) if w.order_id == row.id)
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.order is not None, message="the order did not open")
    assert window.title.text() == "Order WC-727" and window.badge.text() == "Processing"
    assert window.client.text() == "John Doe <john.doe@example.com>"
    assert "#727 in WooCommerce" in window.store.text()
    assert [cell(window.lines, r, 0) for r in range(window.lines.rowCount())] == ["WOO-HOODIE-BLUE", "WOO-CAP-RED"]
    assert window.skipped.isVisibleTo(window) and "Gift card" in window.skipped.text()
    assert window.stock.text() == "Stock reserved"
    assert window.held.rowCount() == 1 and cell(window.held, 0, 2) == "2"
    assert cell(window.held, 0, 3) == "Main"

    shop_sends(desk, "order.updated.json", "order.updated")  # the store completes it
    desk.wait_until(lambda: window.badge.text() == "Completed", message="the open order did not follow the store")
    assert window.stock.text() == "Delivered" and not window.held.isVisibleTo(window)
    desk.wait_until(lambda: page.model.rows() and page.model.rows()[0].status == "completed")
    window.close()


def test_the_module_opens_from_the_sidebar_and_its_screenshot_states(desk: Desk, qtbot: QtBot) -> None:
    from types import SimpleNamespace

    from PySide6.QtCore import QSize

    from crm_desktop.views import orders
    from crm_desktop.views.main_window import MainWindow

    api = desk.signed_in_api()
    desk.run(api.patch("/api/settings", {"values": {"woocommerce.webhook_secret": SECRET}}))
    stocked_hoodie(desk, api)
    shop_sends(desk, "order.created.json", "order.created")
    session = Session(api, desk.run(auth.me(api)))
    main = MainWindow(session)
    qtbot.addWidget(main)
    main.show()
    ctx = SimpleNamespace(main=main, session=session, api=api, me=session.me, size=QSize(1280, 800))
    states = orders.screenshot_states(ctx)
    name, page = next(states)
    assert name == "orders" and isinstance(page, OrdersPage)
    desk.wait_until(lambda: not page.is_busy() and page.model.total == 1)
    name, window = next(states)
    assert name == "order-detail" and isinstance(window, OrderWindow)
    desk.wait_until(lambda: window.order is not None, message="the order did not load")
    assert list(states) == []
