"""The Tickets queue and board name each ticket's team from their first paint, even when the team
list answers after the first page of tickets (a slow server): never "team #9" until something reloads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import admin, auth
from crm_desktop.session import Session
from crm_desktop.views.tickets import TicketsPage
from crm_desktop.views.tickets.board import TicketCard
from tests.desktop.conftest import Desk
from tests.desktop.test_ticket_detail import route_bugs_to


def test_the_team_column_names_the_team_from_the_first_paint(
    desk: Desk, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = desk.signed_in_api()
    team_id, bug = route_bugs_to(desk, api, "Technical Integration")
    ticket = desk.run(api.post("/api/tickets", {"subject": "Webhook returns 401", "category_id": bug}))
    assert ticket["team_id"] == team_id
    real_list_teams = admin.list_teams

    async def slow_list_teams(client: Any) -> Any:  # the team list answers after the tickets do
        await asyncio.sleep(0.6)
        return await real_list_teams(client)

    monkeypatch.setattr(admin, "list_teams", slow_list_teams)
    page = TicketsPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    queue = page.queue
    team_column = [queue.model.headerData(i, Qt.Orientation.Horizontal) for i in range(queue.model.columnCount())]
    team_column_index = team_column.index("Team")
    desk.wait_until(lambda: queue.model.rowCount() > 0, message="the queue did not load")
    # The first rows the table holds already read the team's name.
    assert queue.model.row(0).id == ticket["id"]
    first = queue.model.data(queue.model.index(0, team_column_index))
    assert first == "Technical Integration", first

    # A team made after the page opened: the next load asks for the team list again.
    _billing, billing_bug = route_bugs_to(desk, api, "Billing")
    billing = desk.run(
        api.post("/api/tickets", {"subject": "Invoice PDF shows the wrong VAT", "category_id": billing_bug})
    )
    queue.reload()
    desk.wait_until(lambda: not queue.is_busy() and billing["id"] in queue.shown_ids(), message="no new ticket")
    row = queue.shown_ids().index(billing["id"])
    assert queue.model.data(queue.model.index(row, team_column_index)) == "Billing"

    # A board opened first (a fresh page, the team list slow again) names the team on its cards.
    board_page = TicketsPage(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(board_page)
    board_page.resize(1280, 800)
    board_page.show_board()
    board_page.show()
    desk.wait_until(lambda: board_page.board.has_loaded, message="the board did not load")
    cards = [w for c in board_page.board.columns for w in c.card_widgets if isinstance(w, TicketCard)]
    assert sorted(c.assignee.toolTip() for c in cards) == ["Team: Billing", "Team: Technical Integration"]
