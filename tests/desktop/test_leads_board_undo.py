"""The leads board after a move: the column the card left keeps its scroll position, a notice says
where the card went with an Undo button for a few seconds, and Ctrl+Z moves it back through the same
move the board makes (Lost asks its reason again; a Won that made a client is refused plainly)."""

from __future__ import annotations

import asyncio

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop import operations
from crm_desktop.views.leads.board import ColumnWidget, LeadCard
from crm_desktop.views.leads.move_dialogs import LostReasonDialog, WonDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_leads_board import (
    click,
    column_name,
    drag,
    find_dialog,
    lead,
    make_lead,
    open_page,
    sign_in,
    statuses,
    wait_for_lead,
)


def test_the_column_a_card_leaves_keeps_its_scroll_position(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)

    async def many() -> None:
        for start in range(0, 30, 10):
            await asyncio.gather(
                *(api.post("/api/leads", json={"person_name": f"Lead {i:02d}"}) for i in range(start, start + 10))
            )

    desk.run(many(), timeout=60)
    page = open_page(desk, qtbot, api)
    board = page.board
    column = board.column_named("Open")
    assert column is not None and len(column.cards) == 30
    bar = column.scroll_area.verticalScrollBar()
    desk.wait_until(lambda: bar.maximum() > 400, message=f"the column does not scroll: {bar.maximum()}")
    bar.setValue(bar.maximum() // 2)
    where = bar.value()
    card = next(w for w in column.card_widgets if w.y() >= where + 10)
    card_id = card.card.id
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert card.hasFocus()
    qtbot.keyClick(card, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert bar.value() == where  # at once, as the card leaves
    desk.wait_until(lambda: column_name(board, card_id) != "Open")
    desk.wait_until(lambda: not board.reload_pending(), message="the move did not finish")
    desk.wait_until(lambda: board.columns[1].count_label.text() == "1")
    assert bar.value() == where  # and after the reload that follows the move


def back_to(desk: Desk, page: QWidget) -> None:
    """The window manager hands the page its window back once the question dialog is gone."""
    page.activateWindow()
    desk.wait_until(lambda: QApplication.activeWindow() is page, message="the page is not the active window")


def test_a_move_offers_undo_and_ctrl_z_moves_the_lead_back(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL", value="1200")
    page = open_page(desk, qtbot, api)
    board = page.board
    click(qtbot, page.filters.include_closed)
    desk.wait_until(lambda: board.column_named("Lost") is not None, message="Lost did not appear")
    card, lost = board.card_widget(ana["id"]), board.column_named("Lost")
    assert isinstance(card, LeadCard) and lost is not None and drag(card, lost)
    dialog = find_dialog(desk, page, LostReasonDialog)
    dialog.reason.setCurrentIndex(dialog.reason.findText("Price too high"))
    click(qtbot, dialog.ok)
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Lost"], "not lost on the server")

    # "Ana Pop moved to Lost." with an Undo button, for a few seconds.
    desk.wait_until(lambda: board.undo_button.isVisible(), message="no Undo offered")
    assert board.notice_text.text() == "Ana Pop moved to Lost." and board.undo_timer.isActive()
    # Ctrl+Z moves it back, through the same move the board makes.
    back_to(desk, page)
    qtbot.keyClick(board, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    saved = wait_for_lead(
        desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Open"], "the undo did not move it"
    )
    assert saved["lost_reason_id"] is None
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Open", message="the card did not come back")
    desk.wait_until(lambda: board.notice_text.text() == "Ana Pop is back in Open.", message=board.notice_text.text())
    assert not board.undo_button.isVisible()
    desk.wait_until(lambda: not board.reload_pending())
    assert board.undo_last() is False  # one undo; the undo itself is not undone

    # The Undo button does the same; the notice goes away by itself when its time is up.
    open_column = board.column_named("Open")
    card = board.card_widget(ana["id"])
    assert open_column is not None and card is not None
    click(qtbot, card)
    qtbot.keyClick(card, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    column = board.columns[1]
    assert isinstance(column, ColumnWidget)
    second = column.status
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == second.id, "the second move did not land")
    desk.wait_until(lambda: board.undo_button.isVisible(), message="no Undo after the keyboard move")
    assert board.notice_text.text() == f"Ana Pop moved to {second.name}."
    board.undo_timer.setInterval(50)
    board.undo_timer.start()
    desk.wait_until(lambda: not board.notice.isVisible(), message="the undo notice stayed")
    back_to(desk, page)
    qtbot.keyClick(board, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # still the last move
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Open"], "Ctrl+Z after the notice")


def test_undoing_a_win_that_made_a_client_is_refused_plainly(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = make_lead(desk, api, "Ana Pop", company="Globex SRL", status_id=ids["Negotiation"])
    page = open_page(desk, qtbot, api)
    board = page.board
    card, won = board.card_widget(ana["id"]), board.column_named("Won")
    assert isinstance(card, LeadCard) and won is not None and drag(card, won)
    dialog = find_dialog(desk, page, WonDialog)
    click(qtbot, dialog.ok)
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["converted_client_id"] is not None, "not converted")
    desk.wait_until(lambda: "is now a client" in board.notice_text.text(), message=board.notice_text.text())
    assert not board.undo_button.isVisible()  # no Undo offered for a conversion
    back_to(desk, page)
    qtbot.keyClick(board, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: "does not undo that move" in board.notice_text.text(), message=board.notice_text.text())
    assert "Globex SRL" in board.notice_text.text() and "Open the lead" in board.notice_text.text()
    desk.wait_until(lambda: operations.pending() == 0 and not board.reload_pending())
    assert lead(desk, api, ana["id"])["status_id"] == ids["Won"]
    assert column_name(board, ana["id"]) == "Won"


def test_undoing_a_move_out_of_lost_asks_the_reason_again(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    reasons = {r["name"]: r["id"] for r in desk.run(api.get("/api/lost-reasons"))}
    ana = make_lead(desk, api, "Ana Pop")
    desk.run(
        api.post(
            f"/api/leads/{ana['id']}/move",
            json={"version": ana["version"], "status_id": ids["Lost"], "lost_reason_id": reasons["Price too high"]},
        )
    )
    page = open_page(desk, qtbot, api)
    board = page.board
    click(qtbot, page.filters.include_closed)
    desk.wait_until(lambda: board.column_named("Lost") is not None, message="Lost did not appear")
    card, open_column = board.card_widget(ana["id"]), board.column_named("Open")
    assert isinstance(card, LeadCard) and open_column is not None and drag(card, open_column)
    wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Open"], "not reopened")
    desk.wait_until(lambda: board.undo_button.isVisible(), message="no Undo offered")
    click(qtbot, board.undo_button)
    dialog = find_dialog(desk, page, LostReasonDialog)  # the same question as a drag to Lost
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Cancel))  # not now: the undo stays
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the question stayed")
    assert column_name(board, ana["id"]) == "Open"
    back_to(desk, page)
    qtbot.keyClick(board, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    dialog = find_dialog(desk, page, LostReasonDialog)
    dialog.reason.setCurrentIndex(dialog.reason.findText("Price too high"))
    click(qtbot, dialog.ok)
    saved = wait_for_lead(desk, api, ana["id"], lambda lead: lead["status_id"] == ids["Lost"], "not lost again")
    assert saved["lost_reason_id"] == reasons["Price too high"]
