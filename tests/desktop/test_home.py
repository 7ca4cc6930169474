"""Home in the main window against the real server (issue #20): an admin lands on Home, a figure
opens the filtered list behind it, and a widget hidden through Customise stays hidden when Home is
opened again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.home import HomePage
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.tickets import TicketsPage
from tests.desktop.conftest import Desk


def _open(desk: Desk, qtbot: QtBot, session: Session) -> tuple[MainWindow, HomePage]:
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.open_nth_module(1)
    assert window.current_module == "home"
    page = window.pages["home"].content
    assert isinstance(page, HomePage)
    desk.wait_until(lambda: page.data is not None and bool(page.cards), message="Home did not load")
    return window, page


def test_home_figure_opens_its_list_and_a_hidden_widget_stays_hidden(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    late = desk.run(api.post("/api/tickets", {"subject": "Printer on fire", "priority": "high"}))
    desk.run(api.post("/api/tickets", {"subject": "A question"}))

    async def overdue() -> None:
        async with desk.server.session() as s:
            await s.execute(
                text("UPDATE tickets SET first_response_due_at = :at WHERE id = :id"),
                {"at": datetime.now(UTC) - timedelta(hours=2), "id": late["id"]},
            )

    desk.on_server(overdue())
    session = Session(api, desk.run(auth.me(api)))
    window, page = _open(desk, qtbot, session)
    assert window.sidebar.keys()[0] == "home"

    breaches = page.cards["ticket_alerts"].figures["sla_breaches"]
    assert breaches.value.text() == "1"
    qtbot.mouseClick(breaches, Qt.MouseButton.LeftButton)
    assert window.current_module == "tickets"
    tickets = window.pages["tickets"].content
    assert isinstance(tickets, TicketsPage)
    assert tickets.filters.values().get("breaching") is True
    desk.wait_until(
        lambda: tickets.queue.filters.breaching and tickets.queue.model.rowCount() == 1,
        message="the queue did not show the one breaching ticket",
    )

    # A figure of a list with a check-box filter: Stock with "Low stock only" ticked.
    window.open_module("home")
    qtbot.mouseClick(page.cards["low_stock"].figures["low"], Qt.MouseButton.LeftButton)
    assert window.current_module == "stock"
    low_only = window.pages["stock"].content.findChild(QCheckBox, "lowOnly")
    assert low_only is not None and low_only.isChecked()

    # Customise: untick the Support widget; it goes, and stays gone on the next opening of Home.
    window.open_module("home")
    page.menu.aboutToShow.emit()
    toggle = next(a for a in page.menu.actions() if a.objectName() == "show_ticket_alerts")
    assert toggle.isChecked()
    toggle.trigger()
    assert "ticket_alerts" not in page.shown_keys() and page.cards["ticket_alerts"].isHidden()
    window.close()

    second = Session(api, session.me)
    again, reopened = _open(desk, qtbot, second)
    assert "ticket_alerts" not in reopened.shown_keys()
    assert "my_tickets" in reopened.shown_keys()
    reopened.menu.aboutToShow.emit()
    assert not next(a for a in reopened.menu.actions() if a.objectName() == "show_ticket_alerts").isChecked()

    # Live: a lead made elsewhere reaches the New leads figure without a click.
    second.start()
    desk.wait_until(lambda: second.events.state == "connected", message="the event stream did not connect")
    before = int(reopened.cards["new_leads"].figures["new_24h"].value.text())

    async def add_lead(http: httpx.AsyncClient) -> None:
        assert (await http.post("/api/leads", json={"person_name": "Walk-in"})).status_code == 201

    desk.admin_http(add_lead)
    desk.wait_until(
        lambda: int(reopened.cards["new_leads"].figures["new_24h"].value.text()) == before + 1,
        message="Home did not follow the new lead",
    )
    desk.run(second.close())
    again.close()
