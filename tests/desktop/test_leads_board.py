"""The leads page and its Kanban board against the real server: drag to Lost and Won, a colleague's
move showing up live, moving with the keyboard, filters and saved views, a cancelled question."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop import operations
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.leads import LeadsPage
from crm_desktop.views.leads.board import ColumnWidget, LeadBoard, LeadCard
from crm_desktop.views.leads.move_dialogs import LostReasonDialog, WonDialog
from tests.desktop.conftest import Desk


def sign_in(desk: Desk, email: str = "ada@example.com", role: str = "Admin") -> ApiClient:
    return desk.signed_in_api(email, role=role)


def open_page(desk: Desk, qtbot: QtBot, api: ApiClient) -> LeadsPage:
    session = Session(api, desk.run(auth.me(api)))
    session.start()
    page = LeadsPage(session)
    qtbot.addWidget(page)
    page.resize(1500, 900)
    page.show()
    page.activateWindow()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    desk.wait_until(lambda: page.board.has_loaded, message="the board did not load")
    return page


def statuses(desk: Desk, api: ApiClient) -> dict[str, int]:
    pipelines = desk.run(api.get("/api/pipelines"))
    default = next(p for p in pipelines if p["is_default"])
    return {s["name"]: s["id"] for s in default["statuses"]}


def make_lead(desk: Desk, api: ApiClient, person_name: str, **fields: Any) -> dict[str, Any]:
    lead: dict[str, Any] = desk.run(api.post("/api/leads", json={"person_name": person_name, **fields}))
    return lead


def lead(desk: Desk, api: ApiClient, lead_id: int) -> dict[str, Any]:
    body: dict[str, Any] = desk.run(api.get(f"/api/leads/{lead_id}"))
    return body


def wait_for_lead(
    desk: Desk, api: ApiClient, lead_id: int, check: Callable[[dict[str, Any]], bool], message: str
) -> dict[str, Any]:
    """Poll the server (on the test's loop, so the board keeps running) until the lead passes ``check``."""

    async def poll() -> dict[str, Any]:
        while True:
            body: dict[str, Any] = await api.get(f"/api/leads/{lead_id}")
            if check(body):
                return body
            await asyncio.sleep(0.05)

    try:
        return desk.run(poll(), timeout=10)
    except TimeoutError:
        raise AssertionError(message) from None


def column_name(board: LeadBoard, lead_id: int) -> str | None:
    column = board.column_of(lead_id)
    return column.status.name if column is not None else None


def drag(card: LeadCard, column: ColumnWidget) -> bool:
    """Drag ``card`` onto ``column`` the way Qt delivers a drag: enter, move, drop, with the
    card's own mime data (offscreen Qt cannot run the platform's drag loop itself)."""
    mime = card.mime()
    at = column.rect().center()
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(column, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(column, QDragMoveEvent(at + QPoint(0, 4), Qt.DropAction.MoveAction, mime, buttons, keys))
    assert column.property("dropTarget") is True  # the column lights up under the card
    drop = QDropEvent(QPointF(at), Qt.DropAction.MoveAction, mime, buttons, keys)
    QApplication.sendEvent(column, drop)
    return drop.isAccepted()


def find_dialog(desk: Desk, page: LeadsPage, kind: type[Any]) -> Any:
    desk.wait_until(lambda: any(d.isVisible() for d in page.findChildren(kind)), message=f"no {kind.__name__}")
    return next(d for d in page.findChildren(kind) if d.isVisible())


def click(qtbot: QtBot, widget: Any) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_dragging_to_lost_asks_why_and_the_server_keeps_the_reason(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL", value="1200")
    make_lead(desk, api, "Dan Ene", company="Initech")
    page = open_page(desk, qtbot, api)
    board = page.board
    assert board.column_named("Lost") is None  # closed columns stay out of the way by default
    assert column_name(board, ana["id"]) == "Open"
    assert board.column_named("Open").count_label.text() == "2"  # type: ignore[union-attr]
    assert "1,200.00 EUR" in board.column_named("Open").totals_label.text()  # type: ignore[union-attr]

    click(qtbot, page.filters.include_closed)
    desk.wait_until(lambda: board.column_named("Lost") is not None, message="Lost did not appear")
    lost = board.column_named("Lost")
    assert lost is not None and lost.empty.isVisible()  # an empty column says so calmly
    card = board.card_widget(ana["id"])
    assert card is not None and drag(card, lost)

    dialog = find_dialog(desk, page, LostReasonDialog)
    assert not dialog.ok.isEnabled()  # a reason first
    dialog.reason.setCurrentIndex(dialog.reason.findText("Other"))
    assert not dialog.ok.isEnabled()  # "Other" needs words
    qtbot.keyClicks(dialog.text, "Went with a cousin's firm")
    assert dialog.ok.isEnabled()
    dialog.reason.setCurrentIndex(dialog.reason.findText("Price too high"))
    click(qtbot, dialog.ok)

    reasons = {r["name"]: r["id"] for r in desk.run(api.get("/api/lost-reasons"))}
    saved = wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Lost"], "not lost on the server")
    assert saved["lost_reason_id"] == reasons["Price too high"]
    assert saved["lost_reason_text"] == "Went with a cousin's firm"
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the dialog stayed open")
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Lost")
    desk.wait_until(lambda: board.column_named("Lost").count_label.text() == "1")  # type: ignore[union-attr]
    assert board.column_named("Open").count_label.text() == "1"  # type: ignore[union-attr]


def test_dragging_to_won_converts_the_lead_into_a_client(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = make_lead(
        desk, api, "Ana Pop", company="Globex SRL", email="ana@globex.ro", value="900", status_id=ids["Negotiation"]
    )
    page = open_page(desk, qtbot, api)
    board = page.board
    won = board.column_named("Won")
    card = board.card_widget(ana["id"])
    assert won is not None and card is not None and drag(card, won)

    dialog = find_dialog(desk, page, WonDialog)
    assert dialog.convert.isChecked() and dialog.name.text() == "Globex SRL"
    qtbot.keyClicks(dialog.vat, "RO 123456")
    click(qtbot, dialog.ok)

    saved = wait_for_lead(
        desk, api, ana["id"], lambda lead: lead["converted_client_id"] is not None, "the lead was not converted"
    )
    assert saved["status_id"] == ids["Won"]
    client = desk.run(api.get(f"/api/clients/{saved['converted_client_id']}"))
    assert client["name"] == "Globex SRL" and client["vat_number"] == "RO 123456"
    desk.wait_until(lambda: board.notice.isVisible(), message="no word that a client was made")
    assert "Globex SRL is now a client" in board.notice_text.text()
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Won")
    assert "900.00 EUR" in won.totals_label.text()


def test_a_colleagues_move_shows_up_live_without_a_refresh(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    page = open_page(desk, qtbot, api)
    board = page.board
    assert board.stack.currentWidget() is board.no_leads  # nothing yet: a calm hint to add one
    assert board.no_leads.button is not None and board.no_leads.button.text() == "New lead"

    colleague = sign_in(desk, "bob@example.com", role="Admin")
    ana = make_lead(desk, colleague, "Ana Pop", company="Globex SRL")
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Open", timeout=3, message="the new lead did not show")
    assert board.stack.currentWidget() is board.scroll_area

    desk.run(
        colleague.post(
            f"/api/leads/{ana['id']}/move", json={"version": ana["version"], "status_id": ids["Demo Scheduled"]}
        )
    )
    desk.wait_until(
        lambda: column_name(board, ana["id"]) == "Demo Scheduled",
        timeout=3,
        message="the colleague's move did not show",
    )
    assert board.column_named("Open").count_label.text() == "0"  # type: ignore[union-attr]


def test_moving_a_card_with_the_keyboard(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL")
    dan = make_lead(desk, api, "Dan Ene", company="Initech")
    page = open_page(desk, qtbot, api)
    board = page.board
    card = board.card_widget(dan["id"])  # the newest card is on top
    assert card is not None and board.column_named("Open").card_widgets[0] is card  # type: ignore[union-attr]
    click(qtbot, card)
    assert card.hasFocus()
    qtbot.keyClick(card, Qt.Key.Key_Down)
    below = board.card_widget(ana["id"])
    assert below is not None and below.hasFocus()

    second = board.columns[1].status
    qtbot.keyClick(below, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert column_name(board, ana["id"]) == second.name  # at once, before the server answered
    moved = board.card_widget(ana["id"])
    assert moved is not None and moved.hasFocus()  # the focus travels with the card
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == second.id, "the server did not get the move")
    desk.wait_until(lambda: board.columns[1].count_label.text() == "1")

    opened: list[int] = []
    board.lead_opened.connect(opened.append)
    moved = board.card_widget(ana["id"])
    assert moved is not None
    moved.setFocus()
    qtbot.keyClick(moved, Qt.Key.Key_Return)
    assert opened == [ana["id"]]


def test_filters_narrow_the_board_and_clear_all_restores_it(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    bob_id = desk.create_user("bob@example.com", full_name="Bob Baker")
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL")
    dan = make_lead(desk, api, "Dan Ene", company="Initech", owner_id=bob_id)
    eve = make_lead(desk, api, "Eve Stan", company="Globex Trading", owner_id=bob_id)
    page = open_page(desk, qtbot, api)
    board, bar = page.board, page.filters
    everyone = {ana["id"], dan["id"], eve["id"]}

    def shown() -> set[int]:
        return {card.id for column in board.columns for card in column.cards}

    assert shown() == everyone
    assert not bar.clear.isEnabled()
    desk.wait_until(lambda: bar.owner.findText("Bob Baker") > 0, message="owners did not load")
    bar.owner.setCurrentIndex(bar.owner.findText("Bob Baker"))
    desk.wait_until(lambda: shown() == {dan["id"], eve["id"]}, message="owner filter did not narrow")
    qtbot.keyClicks(bar.search, "globex")
    desk.wait_until(lambda: shown() == {eve["id"]}, message="search did not narrow")
    assert bar.values() == {"owner_id": bob_id, "q": "globex"}

    bar.save_current("Bob's Globex")
    click(qtbot, bar.clear)
    desk.wait_until(lambda: shown() == everyone, message="clear all did not restore the board")
    assert bar.values() == {} and bar.search.text() == ""

    qtbot.keyClicks(bar.search, "nobody like this")
    desk.wait_until(lambda: board.stack.currentWidget() is board.no_match, message="no 'nothing matches' state")
    assert board.no_match.button is not None
    click(qtbot, board.no_match.button)
    desk.wait_until(lambda: shown() == everyone and board.stack.currentWidget() is board.scroll_area)

    bar.views.setCurrentIndex(bar.views.findText("Bob's Globex"))
    bar.views.activated.emit(bar.views.currentIndex())
    desk.wait_until(lambda: shown() == {eve["id"]}, message="the saved view did not come back")


def test_cancelling_the_lost_question_leaves_the_lead_where_it_was(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL", status_id=ids["Connected"])
    page = open_page(desk, qtbot, api)
    board = page.board
    click(qtbot, page.filters.include_closed)
    desk.wait_until(lambda: board.column_named("Lost") is not None)
    card, lost = board.card_widget(ana["id"]), board.column_named("Lost")
    assert card is not None and lost is not None and drag(card, lost)
    dialog = find_dialog(desk, page, LostReasonDialog)
    assert column_name(board, ana["id"]) == "Connected"  # nothing moves before the answer
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Cancel))
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible())
    desk.wait_until(lambda: operations.pending() == 0 and not board.reload_pending())
    assert column_name(board, ana["id"]) == "Connected"
    assert board.column_named("Lost").count_label.text() == "0"  # type: ignore[union-attr]
    saved = lead(desk, api, ana["id"])
    assert saved["status_id"] == ids["Connected"] and saved["version"] == ana["version"]
    # A card dropped on its own column is not a move at all.
    same = board.column_named("Connected")
    card = board.card_widget(ana["id"])
    assert same is not None and card is not None and not drag(card, same)


def test_a_column_loads_more_cards_when_scrolled_to_its_end(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)

    async def many() -> None:
        for start in range(0, 55, 11):  # a few at a time: the server is shared with the board
            await asyncio.gather(
                *(
                    api.post("/api/leads", json={"person_name": f"Lead {i:02d}", "value": "10"})
                    for i in range(start, start + 11)
                )
            )

    desk.run(many(), timeout=60)
    page = open_page(desk, qtbot, api)
    column = page.board.column_named("Open")
    assert column is not None and column.count_label.text() == "55" and len(column.cards) == 50
    assert column.totals_label.text() == "550.00 EUR"
    bar = column.scroll_area.verticalScrollBar()
    desk.wait_until(lambda: bar.maximum() > 0, message="the column does not scroll")
    bar.setValue(bar.maximum())
    desk.wait_until(lambda: len(column.cards) == 55, message="the rest of the column did not load")
    assert len({c.id for c in column.cards}) == 55


def test_a_refused_move_puts_the_card_back(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL")
    session = Session(api, desk.run(auth.me(api)))  # no live events: the board keeps a stale version
    page = LeadsPage(session)
    qtbot.addWidget(page)
    page.show()
    desk.wait_until(lambda: page.board.has_loaded)
    board = page.board
    colleague = sign_in(desk, "bob@example.com", role="Admin")
    desk.run(colleague.patch(f"/api/leads/{ana['id']}", json={"version": ana["version"], "company": "Globex SA"}))

    card = board.card_widget(ana["id"])
    assert card is not None
    click(qtbot, card)
    qtbot.keyClick(card, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert column_name(board, ana["id"]) == board.columns[1].status.name  # optimistic
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Open", message="the card did not go back")
    box = find_dialog(desk, page, QMessageBox)
    assert box.windowTitle() == "Changed elsewhere"
    assert lead(desk, api, ana["id"])["status_id"] == board.columns[0].status.id


def test_the_page_in_the_main_window_switches_views_sharing_the_filters(desk: Desk, qtbot: QtBot) -> None:
    from crm_server.contract.search import SearchHit
    from tests.desktop.test_main_window import open_main

    window = open_main(desk, qtbot)  # signs in ada@example.com as an admin; Home is the first module
    window.open_module("leads")
    api = window.session.api
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL")
    window.activateWindow()
    desk.wait_until(window.isActiveWindow, message="the window did not become active")
    page = window.pages["leads"].content
    assert isinstance(page, LeadsPage) and page.current_view == "board"
    desk.wait_until(lambda: page.board.card_widget(ana["id"]) is not None, message="the board did not load")

    page.filters.search.setFocus()
    qtbot.keyClicks(page.filters.search, "globex")
    qtbot.keyClick(
        page.filters.search, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert page.current_view == "list" and page.list_button.isChecked()
    desk.wait_until(
        lambda: getattr(page.list, "filters", None) == {"q": "globex"}, message="the list did not get the filters"
    )
    window.activateWindow()  # (offscreen, the list's first load can leave no window active)
    desk.wait_until(window.isActiveWindow)
    page.filters.search.setFocus()
    qtbot.keyClick(
        page.filters.search, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert page.current_view == "board"
    desk.wait_until(lambda: page.board.filters == {"q": "globex"})

    before = set(QApplication.topLevelWidgets())
    window.open_record("leads", SearchHit(type="lead", id=ana["id"], title="Ana Pop"))
    desk.wait_until(
        lambda: any(w.isVisible() for w in set(QApplication.topLevelWidgets()) - before),
        message="the lead did not open",
    )
