"""Website forms end to end: an admin sets up a form in the admin panel by typing and clicking (a
wrong website address is named at its field first), copies the embed code, a visitor's browser
posts the form over HTTP from the allowed site, and the lead appears on a leads board that was
already open, without a refresh: the inbox's job (the worker is on) makes it, the live event
brings it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QLineEdit, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.operations import errors
from crm_desktop.views.admin.web_forms import LABEL, MAPS, REQUIRED, WebFormsPage
from crm_desktop.views.leads.board import LeadCard
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.desktop.test_leads_board import open_page, sign_in, statuses
from tests.support import LiveServer

SITE = "https://www.example.com"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: the inbox's job turns a post into a lead."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_into(qtbot: QtBot, widget: QWidget, text: str) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    if isinstance(widget, QLineEdit):
        widget.selectAll()
    qtbot.keyClicks(widget, text)


def choose(qtbot: QtBot, combo: QComboBox, text: str) -> None:
    """Pick an entry by typing its first letters, as a keyboard user does on a closed combo."""
    combo.setFocus()
    qtbot.keyClicks(combo, text)
    assert combo.currentText().startswith(text), (combo.currentText(), text)


def test_a_form_set_up_in_the_admin_panel_brings_a_lead_to_the_open_board(desk: Desk, qtbot: QtBot) -> None:
    api = sign_in(desk)
    board_page = open_page(desk, qtbot, api)  # a salesperson's board, open before anything happens
    board = board_page.board
    second_open = [name for name in statuses(desk, api) if name not in ("Won", "Lost", "Junk")][1]
    assert not board.findChildren(LeadCard)

    _api, panel, page = open_panel(desk, qtbot, "web_forms", api)
    assert isinstance(page, WebFormsPage)
    assert page.empty.isVisible() and not page.list.isVisible()
    click(qtbot, page.new_button)
    type_into(qtbot, page.name, "Contact us")
    table = page.fields_table
    assert [r["name"] for r in table.rows()] == ["name", "email", "phone", "message"]  # the starter fields
    # Drop the phone, add a company field and one kept in the note, and make the message required.
    table.setCurrentCell(2, 0)
    click(qtbot, page.remove_field_button)
    click(qtbot, page.add_field_button)
    row = table.rowCount() - 1
    type_into(qtbot, table.cell(row, LABEL), "Company")
    choose(qtbot, table.cell(row, MAPS), "Company")  # type: ignore[arg-type]
    click(qtbot, page.up_button)  # before the message
    click(qtbot, page.add_field_button)
    type_into(qtbot, table.cell(table.rowCount() - 1, LABEL), "How did you hear of us")
    required = table.cell(3, REQUIRED)
    required.setFocus()
    qtbot.keyClick(required, Qt.Key.Key_Space)
    assert [(r["name"], r["maps_to"], r["required"]) for r in table.rows()] == [
        ("name", "person_name", True),
        ("email", "email", True),
        ("company", "company", False),
        ("message", "note", True),
        ("how_did_you_hear_of_us", "none", False),
    ]
    choose(qtbot, page.status, second_open)

    # A website written without its scheme is named at the field, and nothing is saved.
    type_into(qtbot, page.origins, "www.example.com")
    click(qtbot, page.save_button)
    desk.wait_until(lambda: errors.is_marked(page.origins), message="the bad origin was not marked")
    assert "is not a website origin" in page.origins.toolTip()
    assert desk.run(api.get("/api/web-forms")) == []
    page.origins.selectAll()
    qtbot.keyClicks(page.origins, SITE)
    assert not errors.is_marked(page.origins)  # typing clears the mark
    qtbot.keyClick(page, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: page.post_url.text().startswith("http"), message="the form was not saved")
    settle(desk, panel)
    [saved] = desk.run(api.get("/api/web-forms"))
    assert saved["name"] == "Contact us" and saved["allowed_origins"] == [SITE]
    assert saved["status_id"] == statuses(desk, api)[second_open], saved
    assert page.list.count() == 1 and "Contact us" in page.list.item(0).text()
    assert page.post_url.text() == saved["post_url"] == f"{desk.server.base_url}/webhooks/forms/{saved['key']}"

    click(qtbot, page.copy_button)
    desk.wait_until(lambda: "<form" in QGuiApplication.clipboard().text(), message="nothing was copied")
    embed = QGuiApplication.clipboard().text()
    assert f'action="{saved["post_url"]}"' in embed and 'name="website"' in embed
    assert "Set the server's public address" in page.notice_text.text()  # app.public_url is not set yet

    # A visitor's browser on the allowed site posts the form (form-encoded, as a plain <form> does).
    async def visit() -> httpx.Response:
        async with httpx.AsyncClient() as browser:
            return await browser.post(
                saved["post_url"],
                headers={"Origin": SITE},
                data={
                    "name": "Maria Ionescu",
                    "email": "maria@example.com",
                    "company": "Globex SRL",
                    "message": "Please call me.",
                    "how_did_you_hear_of_us": "A friend",
                    "website": "",
                },
            )

    answer = desk.on_server(visit())
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == SITE

    def card() -> LeadCard | None:
        return next((c for c in board.findChildren(LeadCard) if c.card.person_name == "Maria Ionescu"), None)

    desk.wait_until(lambda: card() is not None, timeout=20, message="the lead did not reach the open board")
    found = card()
    assert found is not None
    assert board.column_of(found.card.id) is board.column_named(second_open)
    lead = desk.run(api.get(f"/api/leads/{found.card.id}"))
    assert (lead["company"], lead["source"], lead["email"]) == ("Globex SRL", "Website form", "maria@example.com")

    # A new key retires the old address (after a question).
    click(qtbot, page.key_button)
    question = the_dialog(QMessageBox)
    click(qtbot, next(b for b in question.buttons() if b.text() == "New key"))  # type: ignore[arg-type]
    desk.wait_until(lambda: page.post_url.text() != saved["post_url"], message="the key did not change")
    assert "The old address no longer works" in page.notice_text.text()
    assert desk.on_server(visit()).status_code == 404
