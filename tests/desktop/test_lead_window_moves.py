"""The lead window moves a lead as the board does: a stage picked in its selector, Lost with the
board's reason dialog, Won with the board's convert-to-client question; the board follows live, and
the window shows the value as the lead's card does."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from crm_desktop import format
from crm_desktop.views.leads import LeadsPage
from crm_desktop.views.leads.detail import LeadDetail, open_lead
from crm_desktop.views.leads.move_dialogs import LostReasonDialog, WonDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_leads_board import click, column_name, lead, open_page, sign_in, statuses, wait_for_lead


def open_window(desk: Desk, qtbot: QtBot, page: LeadsPage, lead_id: int) -> LeadDetail:
    window = open_lead(page, page.session, lead_id)
    qtbot.addWidget(window)
    desk.wait_until(
        lambda: window.lead is not None and window.stage.count() > 1 and not window.is_busy(),
        message="the lead window did not load",
    )
    return window


def the_dialog(desk: Desk, window: LeadDetail, kind: type[LostReasonDialog] | type[WonDialog]) -> LostReasonDialog:
    desk.wait_until(lambda: any(d.isVisible() for d in window.findChildren(kind)), message=f"no {kind.__name__}")
    dialog: LostReasonDialog = next(d for d in window.findChildren(kind) if d.isVisible())
    return dialog


def closed(dialog: LostReasonDialog | WonDialog) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def test_stage_lost_and_won_from_the_lead_window_as_on_the_board(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    ana = desk.run(
        api.post("/api/leads", {"person_name": "Ana Pop", "company": "Globex SRL", "value": "20900", "currency": "RON"})
    )
    page = open_page(desk, qtbot, api)
    board = page.board
    click(qtbot, page.filters.include_closed)  # Lost and Won columns on the board too
    desk.wait_until(lambda: board.column_named("Lost") is not None, message="the closed columns did not appear")
    window = open_window(desk, qtbot, page, ana["id"])

    # The value reads as on the lead's card: thousands and the currency.
    card = board.card_widget(ana["id"])
    assert card is not None
    card_value = card.findChild(QLabel, "cardValue")
    assert card_value is not None and card_value.text() == format.money("20900", "RON")
    assert window.value_figure.text() == card_value.text()

    # The selector lists the pipeline's stages, on the lead's own; Won and Lost are offered.
    stages = [window.stage.itemText(i) for i in range(window.stage.count())]
    assert stages[0] == "Open" and {"Proposal Sent", "Won", "Lost"} <= set(stages)
    assert window.stage.currentText() == "Open" and window.badge.text() == "Open"
    assert window.won_button.isVisible() and window.lost_button.isVisible()

    # Picking a stage moves the lead; the board follows.
    window.stage.setCurrentIndex(window.stage.findText("Proposal Sent"))
    wait_for_lead(desk, api, ana["id"], lambda b: b["status_id"] == ids["Proposal Sent"], "not moved on the server")
    desk.wait_until(lambda: window.badge.text() == "Proposal Sent", message="the window did not show the stage")
    assert "moved to Proposal Sent" in window.notice.text()
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Proposal Sent", message="the board did not follow")

    # Lost asks the board's question; Cancel moves nothing and the selector goes back.
    click(qtbot, window.lost_button)
    dialog = the_dialog(desk, window, LostReasonDialog)
    assert not window.stage.isEnabled()  # one move at a time
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Cancel))
    desk.wait_until(lambda: closed(dialog) and window.stage.isEnabled())
    assert window.stage.currentText() == "Proposal Sent"
    assert lead(desk, api, ana["id"])["status_id"] == ids["Proposal Sent"]

    # Lost again, with a reason this time: kept on the server, shown here and on the board.
    click(qtbot, window.lost_button)
    dialog = the_dialog(desk, window, LostReasonDialog)
    assert not dialog.ok.isEnabled()  # a reason first
    dialog.choose("Price too high")
    click(qtbot, dialog.ok)
    reasons = {r["name"]: r["id"] for r in desk.run(api.get("/api/lost-reasons"))}
    lost = wait_for_lead(desk, api, ana["id"], lambda b: b["status_id"] == ids["Lost"], "not lost on the server")
    assert lost["lost_reason_id"] == reasons["Price too high"]
    desk.wait_until(lambda: closed(dialog), message="the reason dialog stayed open")
    desk.wait_until(lambda: window.badge.text() == "Lost" and window.stage.currentText() == "Lost")
    assert window.badge.property("tone") == "danger"
    assert not window.lost_button.isVisible() and window.won_button.isVisible()
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Lost", message="the board did not show it lost")

    # Won: the board's convert-to-client question, named after the company; the lead becomes a client.
    click(qtbot, window.won_button)
    won = the_dialog(desk, window, WonDialog)
    assert isinstance(won, WonDialog) and won.convert.isChecked() and won.name.text() == "Globex SRL"
    click(qtbot, won.ok)
    done = wait_for_lead(desk, api, ana["id"], lambda b: b["status_id"] == ids["Won"], "not won on the server")
    assert done["converted_client_id"] is not None
    client = desk.run(api.get(f"/api/clients/{done['converted_client_id']}"))
    assert client["name"] == "Globex SRL"
    desk.wait_until(lambda: window.badge.text() == "Won", message="the window did not show it won")
    assert window.notice.text() == "Ana Pop is won, and Globex SRL is now a client."
    assert not window.won_button.isVisible() and window.lost_button.isVisible()
    desk.wait_until(lambda: column_name(board, ana["id"]) == "Won", message="the board did not show it won")


def test_a_move_keeps_what_is_typed_but_not_saved(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    ids = statuses(desk, api)
    dan = desk.run(api.post("/api/leads", {"person_name": "Dan Ene", "company": "Initech"}))
    page = open_page(desk, qtbot, api)
    window = open_window(desk, qtbot, page, dan["id"])
    assert window.value_figure.text() == "No value"  # as the card says it
    window.form.territory.setFocus()
    qtbot.keyClicks(window.form.territory, "North")
    assert window.has_edits()

    window.stage.setCurrentIndex(window.stage.findText("Demo Given"))
    wait_for_lead(desk, api, dan["id"], lambda b: b["status_id"] == ids["Demo Given"], "not moved on the server")
    desk.wait_until(lambda: window.badge.text() == "Demo Given" and not window.is_busy())
    assert window.form.territory.text() == "North" and window.has_edits()  # still mine, still unsaved

    click(qtbot, window.save_button)
    saved = wait_for_lead(desk, api, dan["id"], lambda b: b["territory"] == "North", "the edit was not saved")
    assert saved["status_id"] == ids["Demo Given"]  # the save did not move it back
