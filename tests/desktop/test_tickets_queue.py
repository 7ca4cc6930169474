"""The Tickets page against the real server: quick views and filters narrowing the queue, a
colleague's new ticket appearing live, and the board moving tickets through the status graph
(a permitted move, a refused one that goes back, Resolved asking for its note)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.tickets import TicketsPage
from crm_desktop.views.tickets.board import ResolutionDialog, TicketBoard
from crm_desktop.widgets.kanban import KanbanCard, KanbanColumn
from tests.desktop.conftest import Desk


def open_page(desk: Desk, qtbot: QtBot, api: ApiClient, board: bool = False) -> TicketsPage:
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    page = TicketsPage(session)
    qtbot.addWidget(page)
    page.resize(1500, 900)
    page.show()
    page.activateWindow()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    if board:
        page.show_board()
        desk.wait_until(lambda: page.board.has_loaded, message="the board did not load")
    else:
        desk.wait_until(
            lambda: page.queue.model.total is not None and not page.queue.is_busy(), message="the queue did not load"
        )
    return page


def make_ticket(desk: Desk, api: ApiClient, subject: str, **fields: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = desk.run(api.post("/api/tickets", json={"subject": subject, **fields}))
    return ticket


def assign(desk: Desk, api: ApiClient, ticket: dict[str, Any], user_id: int) -> dict[str, Any]:
    body: dict[str, Any] = desk.run(
        api.post(f"/api/tickets/{ticket['id']}/assign", json={"version": ticket["version"], "assignee_id": user_id})
    )
    return body


def move(desk: Desk, api: ApiClient, ticket: dict[str, Any], status: str) -> dict[str, Any]:
    body: dict[str, Any] = desk.run(
        api.post(f"/api/tickets/{ticket['id']}/move", json={"version": ticket["version"], "status": status})
    )
    return body


def wait_for_ticket(
    desk: Desk, api: ApiClient, ticket_id: int, check: Callable[[dict[str, Any]], bool], message: str
) -> dict[str, Any]:
    async def poll() -> dict[str, Any]:
        while True:
            body: dict[str, Any] = await api.get(f"/api/tickets/{ticket_id}")
            if check(body):
                return body
            await asyncio.sleep(0.05)

    try:
        return desk.run(poll(), timeout=10)
    except TimeoutError:
        raise AssertionError(message) from None


def shown(page: TicketsPage) -> set[int]:
    return set(page.queue.shown_ids())


def settled(page: TicketsPage) -> Callable[[], bool]:
    return lambda: not page.queue.is_busy() and not page.queue._reload_timer.isActive()


def column_of(board: TicketBoard, ticket_id: int) -> str | None:
    column = board.column_of(ticket_id)
    return str(column.key) if column is not None else None


def drag(card: KanbanCard, column: KanbanColumn) -> bool:
    """Enter, move, drop with the card's own mime data (offscreen Qt has no platform drag loop)."""
    mime = card.mime()
    at = column.rect().center()
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(column, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(column, QDragMoveEvent(at + QPoint(0, 4), Qt.DropAction.MoveAction, mime, buttons, keys))
    drop = QDropEvent(QPointF(at), Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(column, drop)
    return drop.isAccepted()


def click(qtbot: QtBot, widget: Any) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_quick_views_and_filters_narrow_the_queue(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("ada@example.com")
    me = desk.run(auth.me(api)).id
    printer = make_ticket(desk, api, "Printer on fire")
    login = make_ticket(desk, api, "Cannot log in", priority="high")
    outage = make_ticket(desk, api, "Whole site down", priority="critical")
    mine = assign(desk, api, make_ticket(desk, api, "Invoice question"), me)
    done = move(desk, api, move(desk, api, mine, "in_process"), "pending_customer")
    closed_one = make_ticket(desk, api, "Old printer issue")
    closed_one = move(desk, api, assign(desk, api, closed_one, me), "in_process")
    desk.run(
        api.post(
            f"/api/tickets/{closed_one['id']}/move",
            json={"version": closed_one["version"], "status": "resolved", "resolution": "Toner"},
        )
    )
    page = open_page(desk, qtbot, api)
    bar = page.filters
    all_open = {printer["id"], login["id"], outage["id"], done["id"]}
    assert shown(page) == all_open  # "All open": the resolved one stays out
    assert bar.quick_buttons[0].isChecked() and not bar.clear.isEnabled()
    number = page.queue.model.data(page.queue.model.index(0, 0))
    assert number == f"#{closed_one['number'] - 1}"  # newest first, as "#1234"

    click(qtbot, bar.quick_buttons[1])  # My tickets
    desk.wait_until(lambda: shown(page) == {done["id"]}, message="My tickets did not narrow")
    assert bar.quick_buttons[1].isChecked() and not bar.quick_buttons[0].isChecked()

    breaching = {t["id"] for t in desk.run(api.get("/api/tickets", breaching=True))["items"]}
    click(qtbot, bar.quick_buttons[2])  # High priority and breaching
    desk.wait_until(
        lambda: shown(page) == {login["id"], outage["id"]} | breaching,
        message="High priority and breaching did not narrow",
    )

    click(qtbot, bar.quick_buttons[0])
    desk.wait_until(lambda: shown(page) == all_open)
    bar.priority.setCurrentIndex(bar.priority.findText("Critical"))
    desk.wait_until(lambda: shown(page) == {outage["id"]}, message="the priority filter did not narrow")
    assert not any(b.isChecked() for b in bar.quick_buttons) and bar.clear.isEnabled()
    bar.priority.setCurrentIndex(0)
    qtbot.keyClicks(bar.search, "printer")
    desk.wait_until(lambda: shown(page) == {printer["id"]}, message="the search did not narrow")
    bar.status.setCurrentIndex(bar.status.findText("Any status"))
    desk.wait_until(lambda: shown(page) == {printer["id"], closed_one["id"]}, message="Any status did not widen")

    bar.save_current("Printers")
    click(qtbot, bar.clear)
    desk.wait_until(lambda: shown(page) == all_open, message="Clear all did not restore the queue")
    assert bar.search.text() == ""
    qtbot.keyClicks(bar.search, "nothing like this")
    desk.wait_until(lambda: settled(page)() and page.queue.table.empty.isVisible(), message="no empty state")
    assert page.queue.table.empty.title.text() == "No tickets match"
    bar.views.setCurrentIndex(bar.views.findText("Printers"))
    bar.views.activated.emit(bar.views.currentIndex())
    desk.wait_until(lambda: shown(page) == {printer["id"], closed_one["id"]}, message="the saved view did not return")


def test_a_colleagues_new_ticket_appears_live(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("ada@example.com")
    page = open_page(desk, qtbot, api)
    assert shown(page) == set() and page.queue.table.empty.isVisible()

    async def create(http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.post("/api/tickets", json={"subject": "VPN drops every hour", "priority": "high"})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    ticket = desk.admin_http(create)
    desk.wait_until(lambda: ticket["id"] in shown(page), timeout=3, message="the new ticket did not show")
    row = page.queue.model.row(page.queue.model.find(ticket["id"]) or 0)
    assert row.subject == "VPN drops every hour"
    sla_text = page.queue.model.data(page.queue.model.index(0, 7))
    assert sla_text.startswith(("in ", "overdue "))


def test_dragging_on_the_board_moves_the_ticket(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("ada@example.com")
    me = desk.run(auth.me(api)).id
    ticket = assign(desk, api, make_ticket(desk, api, "Printer on fire", priority="critical"), me)
    page = open_page(desk, qtbot, api, board=True)
    board = page.board
    assert column_of(board, ticket["id"]) == "assigned"
    assert board.column("closed") is None  # Closed stays out of the way of open work
    card = board.card_widget(ticket["id"])
    target = board.column("in_process")
    assert card is not None and target is not None and drag(card, target)
    assert column_of(board, ticket["id"]) == "in_process"  # at once
    saved = wait_for_ticket(
        desk, api, ticket["id"], lambda t: t["status"] == "in_process", "the move did not reach the server"
    )
    desk.wait_until(
        lambda: getattr(board.card(ticket["id"]), "version", None) == saved["version"],
        message="the board did not reload after the move",
    )
    assert target.count_label.text() == "1" and board.column("assigned").count_label.text() == "0"  # type: ignore[union-attr]

    # Keyboard: Ctrl+Right moves it on to the next column (Pending customer).
    card = board.card_widget(ticket["id"])
    assert card is not None
    click(qtbot, card)
    qtbot.keyClick(card, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    wait_for_ticket(desk, api, ticket["id"], lambda t: t["status"] == "pending_customer", "Ctrl+Right did not move")


def test_a_move_outside_the_graph_goes_back_with_the_servers_message(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("ada@example.com")
    ticket = make_ticket(desk, api, "Cannot log in")
    page = open_page(desk, qtbot, api, board=True)
    board = page.board
    card, target = board.card_widget(ticket["id"]), board.column("in_process")
    assert card is not None and target is not None and drag(card, target)
    desk.wait_until(lambda: any(b.isVisible() for b in page.findChildren(QMessageBox)), message="no message")
    box = next(b for b in page.findChildren(QMessageBox) if b.isVisible())
    assert "cannot move from New to In process" in box.text()
    desk.wait_until(lambda: column_of(board, ticket["id"]) == "new", message="the card did not go back")
    assert board.column("in_process").count_label.text() == "0"  # type: ignore[union-attr]
    assert desk.run(api.get(f"/api/tickets/{ticket['id']}"))["status"] == "new"


def test_resolving_asks_for_the_resolution_note(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("ada@example.com")
    me = desk.run(auth.me(api)).id
    ticket = move(desk, api, assign(desk, api, make_ticket(desk, api, "Printer on fire"), me), "in_process")
    page = open_page(desk, qtbot, api, board=True)
    board = page.board
    card, resolved = board.card_widget(ticket["id"]), board.column("resolved")
    assert card is not None and resolved is not None and drag(card, resolved)
    desk.wait_until(lambda: any(d.isVisible() for d in page.findChildren(ResolutionDialog)), message="no question")
    dialog = next(d for d in page.findChildren(ResolutionDialog) if d.isVisible())
    assert column_of(board, ticket["id"]) == "in_process"  # nothing moves before the answer
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.text, "Replaced the fuser unit")
    click(qtbot, dialog.ok)
    saved = wait_for_ticket(desk, api, ticket["id"], lambda t: t["status"] == "resolved", "not resolved on the server")
    assert saved["resolution"] == "Replaced the fuser unit"
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the dialog stayed open")
    desk.wait_until(lambda: column_of(board, ticket["id"]) == "resolved")


def test_a_search_the_server_refuses_says_the_list_did_not_load(desk: Desk, qtbot: QtBot) -> None:
    """201 characters in the search box: the filters are kept as typed (no crash in the filter bar),
    the list says it could not load; a shorter search loads again."""
    api = desk.signed_in_api("ada@example.com")
    printer = make_ticket(desk, api, "Printer on fire")
    page = open_page(desk, qtbot, api)
    desk.wait_until(lambda: shown(page) == {printer["id"]}, message="the queue did not load")
    page.filters.search.setText("x" * 201)
    desk.wait_until(lambda: page.queue.model.error is not None, message="the refused search was not said")
    page.filters.search.setText("printer")
    desk.wait_until(lambda: shown(page) == {printer["id"]} and page.queue.model.error is None)
