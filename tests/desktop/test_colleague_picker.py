"""A manager (no admin rights) hands leads to a teammate through the reassign dialog's user picker:
GET /api/users answers colleagues (id, name, email, team) and the picker works from that alone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus
from tests.desktop.test_leads_list import make_leads, open_list, the_bulk_dialog
from tests.support import PASSWORD


def test_manager_reassigns_to_a_teammate_found_by_the_colleague_picker(desk: Desk, qtbot: QtBot) -> None:
    sam = desk.create_user(
        "sam@example.com", role="Salesperson", full_name="Sam Seller", team="North", phone="+40 721 000 333"
    )
    desk.create_user("mia@example.com", role="Manager", team="North", full_name="Mia Manager")
    api = desk.api()
    desk.run(auth.login(api, "mia@example.com", PASSWORD))
    colleagues = desk.run(api.get("/api/users", search="sam"))["items"]
    assert colleagues == [
        {
            "id": sam,
            "full_name": "Sam Seller",
            "email": "sam@example.com",
            "team_id": colleagues[0]["team_id"],
            "active": True,
        }
    ]  # no phone, no sign-in details
    made = make_leads(desk, api, [{"person_name": f"Lead {i}"} for i in range(2)])
    leads = open_list(desk, qtbot, api)
    focus(desk, leads.table.view)
    qtbot.keyClick(leads.table.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.mouseClick(leads.reassign_button, Qt.MouseButton.LeftButton)
    dialog = the_bulk_dialog()
    assert dialog.picker is not None
    qtbot.keyClicks(dialog.picker, "sam")
    desk.wait_until(
        lambda: dialog.picker is not None and dialog.picker.matches.rowCount() == 1,
        message="the picker found no colleague",
    )
    assert dialog.picker.matches.item(0).text() == "Sam Seller <sam@example.com>"
    dialog.picker.choose(0)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "2 leads reassigned" in leads.notice_text.text(), message=leads.notice_text.text())
    assert {desk.run(api.get(f"/api/leads/{lead['id']}"))["owner_id"] for lead in made} == {sam}
