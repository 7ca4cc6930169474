"""Admin panel, teams page: create a team, tick its members, choose the lead, rename it; the
server ends up with exactly that team, and a person ticked from another team moves."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.common import NameDialog
from crm_desktop.views.admin.teams import TeamsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    settle,
    the_dialog,
)


def test_create_team_with_members_and_lead(desk: Desk, qtbot: QtBot) -> None:
    ana = desk.create_user("ana@example.com", full_name="Ana North")
    ben = desk.create_user("ben@example.com", full_name="Ben North", team="South")
    cid = desk.create_user("cid@example.com", full_name="Cid Elsewhere")
    api, panel, page = open_panel(desk, qtbot, "teams")
    assert isinstance(page, TeamsPage)
    assert [t.name for t in page.teams.values()] == ["South"]

    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Ctrl+N: new team
    dialog = the_dialog(NameDialog)
    qtbot.keyClicks(dialog.name, "North")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    settle(desk, panel)
    assert page.current is not None and page.current.name == "North"  # the new team is selected
    assert page.current.member_ids == []

    # Everyone active is offered; Ben's line says he would move from South.
    texts = [page.members.item(i).text() for i in range(page.members.count())]
    assert any(t.startswith("Ben North") and "now in South" in t for t in texts), texts
    page.set_member(ana, True)
    page.set_member(ben, True)
    assert page.member_count.text() == "2 members"
    assert [page.lead.itemText(i) for i in range(page.lead.count())] == ["No lead", "Ana North", "Ben North"]
    page.lead.setCurrentIndex(page.lead.findData(ana))
    page.name.selectAll()
    qtbot.keyClicks(page.name, "North team")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)

    teams = {t["name"]: t for t in desk.run(api.get("/api/teams"))}
    assert set(teams) == {"North team", "South"}
    assert teams["North team"]["member_ids"] == sorted([ana, ben])
    assert teams["North team"]["lead_user_id"] == ana
    assert teams["South"]["member_ids"] == []  # Ben moved
    assert cid not in teams["North team"]["member_ids"]
    assert "The team North team is saved." in page.notice_text.text()
    # The list shows the saved team, still selected.
    assert page.current is not None and page.current.name == "North team"
    assert page.list.currentItem().text() == "North team\n2 members"


def test_duplicate_team_name_is_shown_next_to_the_name(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("ben@example.com", full_name="Ben", team="South")
    api, panel, page = open_panel(desk, qtbot, "teams")
    page.new_button.click()
    dialog = the_dialog(NameDialog)
    qtbot.keyClicks(dialog.name, "south")
    dialog.buttons.accepted.emit()
    settle(desk, panel)
    label = dialog.name.property("_fieldErrorLabel")
    assert label is not None and label.text() == "A team with this name exists."
    assert dialog.isVisible()
    assert len(desk.run(api.get("/api/teams"))) == 1
