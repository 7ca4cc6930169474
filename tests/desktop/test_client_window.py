"""The client window as the whole picture, driven as a person would: open a client, see its open
balance under its name and the partly paid invoice in the Invoices tab with what is still owed,
double-click it (or press Enter) and the invoice's own window opens; a payment recorded elsewhere
updates the tab live; a salesperson sees no Payments or Tickets tab."""

from __future__ import annotations

from typing import Any

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.clients.detail import ClientWindow, open_client
from crm_desktop.views.clients.summary import AreaTab
from crm_desktop.views.invoices.editor import InvoiceWindow
from crm_desktop.views.tickets.detail import TicketWindow
from tests.desktop.conftest import PASSWORD, Desk
from tests.desktop.test_admin_panel import focus
from tests.desktop.test_invoices import host, issued_invoice, rate_id, signed_in


def loaded(desk: Desk, window: ClientWindow) -> None:
    desk.wait_until(
        lambda: window.client is not None and window.summary is not None and not window.is_busy(),
        message="the client did not load",
    )


def tab_titles(window: ClientWindow) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def show_tab(qtbot: QtBot, window: ClientWindow, key: str) -> AreaTab:
    tab = window.area_tabs[key]
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(window.tabs.indexOf(tab)).center())
    assert window.tabs.currentWidget() is tab
    return tab


def cells(tab: AreaTab, row: int) -> list[str]:
    return [tab.table.item(row, c).text() for c in range(tab.table.columnCount())]  # type: ignore[union-attr]


def test_the_open_balance_and_a_double_click_opens_the_invoice(desk: Desk, qtbot: QtBot) -> None:
    api, session = signed_in(desk)
    client = dict(desk.run(api.post("/api/clients", {"name": "Acme SRL"})))
    standard = rate_id(desk, api, "Standard 19%")
    paid = issued_invoice(desk, api, client["id"], standard, "100.00")  # 119.00 each
    partly = issued_invoice(desk, api, client["id"], standard, "100.00")
    desk.run(api.post(f"/api/invoices/{paid['id']}/payments", {"amount": "119.00", "paid_on": "2026-03-01"}))
    desk.run(api.post(f"/api/invoices/{partly['id']}/payments", {"amount": "19.00", "paid_on": "2026-03-02"}))
    ticket = desk.run(api.post("/api/tickets", {"subject": "Printer on fire", "client_id": client["id"]}))

    window = open_client(host(qtbot), session, client["id"])
    window.resize(1280, 800)
    loaded(desk, window)
    assert window.balance.isVisible() and window.balance.text() == "Open balance: 100.00 EUR"
    assert tab_titles(window) == [
        "Details",
        "Invoices (2)",
        "Payments (2)",
        "Proposals (0)",
        "Deals (0)",
        "Tickets (1)",
        "Orders (0)",
    ]

    invoices = show_tab(qtbot, window, "invoices")
    assert invoices.totals.text() == (
        "2 invoices  ·  Invoiced 238.00 EUR  ·  Paid 138.00 EUR  ·  Open balance 100.00 EUR"
    )
    row = invoices.row_of(lambda item: item.id == partly["id"])
    assert row is not None
    assert cells(invoices, row)[0] == partly["number"]
    assert cells(invoices, row)[1:2] == ["Partly paid"] and cells(invoices, row)[4:] == ["119.00 EUR", "100.00 EUR"]

    payments = show_tab(qtbot, window, "payments")
    assert payments.totals.text() == "2 payments  ·  Received 138.00 EUR"
    assert not show_tab(qtbot, window, "proposals").table.isVisible()  # none: said in words instead
    assert window.area_tabs["proposals"].empty.isVisible()

    # Enter on a ticket opens the ticket's window; on a payment, the invoice it paid.
    tickets = show_tab(qtbot, window, "tickets")
    assert tickets.totals.text() == "1 ticket  ·  1 open" and cells(tickets, 0)[:2] == [
        f"#{ticket['number']}",
        "Printer on fire",
    ]
    tickets.table.selectRow(0)
    focus(desk, tickets.table)
    qtbot.keyClick(tickets.table, Qt.Key.Key_Return)
    ticket_window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, TicketWindow) and w.isVisible())
    assert ticket_window.ticket_id == ticket["id"]
    desk.wait_until(lambda: ticket_window.ticket is not None, message="the ticket did not load")
    ticket_window.close()
    payments = show_tab(qtbot, window, "payments")
    payments.table.selectRow(payments.row_of(lambda item: item.invoice_id == paid["id"]) or 0)
    paid_window = payments.open_selected()
    assert isinstance(paid_window, InvoiceWindow)
    desk.wait_until(lambda: paid_window.invoice is not None, message="the paid invoice did not load")
    assert paid_window.invoice is not None and paid_window.invoice.id == paid["id"]
    paid_window.close()

    # Double-click the partly paid invoice: its own window opens on it.
    invoices = show_tab(qtbot, window, "invoices")
    first_cell = invoices.table.item(row, 0)
    assert first_cell is not None
    rect = invoices.table.visualItemRect(first_cell)
    qtbot.mouseClick(invoices.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(invoices.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    opened = next(w for w in QApplication.topLevelWidgets() if isinstance(w, InvoiceWindow) and w.isVisible())
    desk.wait_until(lambda: opened.invoice is not None and not opened.is_busy(), message="the invoice did not load")
    assert opened.invoice is not None
    assert opened.invoice.id == partly["id"] and opened.invoice.number == partly["number"]
    opened.close()

    # Enter on the other one opens it too.
    other = invoices.row_of(lambda item: item.id == paid["id"])
    assert other is not None
    invoices.table.selectRow(other)
    focus(desk, invoices.table)
    qtbot.keyClick(invoices.table, Qt.Key.Key_Return)
    second = next(
        w for w in QApplication.topLevelWidgets() if isinstance(w, InvoiceWindow) and w.isVisible() and w is not opened
    )
    desk.wait_until(lambda: second.invoice is not None, message="the second invoice did not load")
    assert second.invoice is not None and second.invoice.id == paid["id"]
    second.close()

    # A colleague records the rest of the money: the tab and the balance follow, live.
    async def settle(http: httpx.AsyncClient) -> None:
        answer = await http.post(f"/api/invoices/{partly['id']}/payments", json={"amount": "100.00"})
        assert answer.status_code == 201, answer.text

    desk.admin_http(settle)
    desk.wait_until(
        lambda: window.balance.text() == "Open balance: 0.00 EUR", message="the balance did not follow the payment"
    )
    assert window.tabs.tabText(window.tabs.indexOf(window.area_tabs["payments"])) == "Payments (3)"
    desk.wait_until(lambda: cells(invoices, invoices.row_of(lambda i: i.id == partly["id"]) or 0)[1] == "Paid")
    window.close()


def test_a_salesperson_sees_the_areas_of_their_role(desk: Desk, qtbot: QtBot) -> None:
    admin = desk.signed_in_api("ada@example.com")
    nia = desk.create_user("nia@example.com", full_name="Nia")
    client: dict[str, Any] = dict(desk.run(admin.post("/api/clients", {"name": "Beta GmbH", "owner_id": nia})))
    api = desk.api()
    desk.run(auth.login(api, "nia@example.com", PASSWORD))
    session = Session(api, desk.run(auth.me(api)))
    window = open_client(host(qtbot), session, client["id"])
    loaded(desk, window)
    assert tab_titles(window) == ["Details", "Invoices (0)", "Proposals (0)", "Deals (0)", "Orders (0)"]
    assert not window.balance.isVisible()  # nothing invoiced: no balance to speak of
    window.close()
