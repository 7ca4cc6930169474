"""Admin panel, assignment rules: a rule made in the dialog really decides who gets new leads
nobody owns; order matters (first match wins); a team rule shares leads in turn among the team's
active members and never gives one to a deactivated member."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.assignment import AssignmentPage, RuleDialog
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    settle,
    the_dialog,
)
from tests.desktop.test_admin_pipelines import click_row, rows

_people = itertools.count(1)


def new_lead_owner(desk: Desk, api: Any, source: str) -> int | None:
    """Owner of a new lead from `source` created through the API with no owner (each one a new person:
    the server answers a repeated submit with the first lead)."""
    lead = desk.run(api.post("/api/leads", {"person_name": f"Person {next(_people)} from {source}", "source": source}))
    return lead["owner_id"]


def save(qtbot: QtBot, dialog: RuleDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)


def test_a_rule_made_in_the_dialog_assigns_new_leads(desk: Desk, qtbot: QtBot) -> None:
    xena = desk.create_user("xena@example.com", full_name="Xena Seller")
    yuri = desk.create_user("yuri@example.com", full_name="Yuri Other")
    api, panel, page = open_panel(desk, qtbot, "assignment")
    assert isinstance(page, AssignmentPage)
    assert page.empty.isVisible() and not page.list.isVisible()
    assert "first matching rule" in page.findChild(type(page.empty), "assignmentHow").text()

    focus(desk, page.new_button)
    qtbot.keyClick(page.new_button, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Ctrl+N
    dialog = the_dialog(RuleDialog)
    qtbot.keyClicks(dialog.name, "Facebook leads")
    dialog.source.setCurrentIndex(dialog.source.findText("Facebook"))
    save(qtbot, dialog)  # no person chosen yet: said at the picker, nothing sent
    assert dialog.isVisible() and dialog.user.toolTip() == "Choose a person from the suggestions."
    qtbot.keyClicks(dialog.user, "Xena")
    desk.wait_until(lambda: dialog.user.matches.rowCount() == 1, message="no suggestion for Xena")
    dialog.user.choose(0)
    save(qtbot, dialog)
    settle(desk, panel)

    rules = desk.run(api.get("/api/assignment-rules"))
    assert [(r["name"], r["source"], r["user_id"], r["team_id"]) for r in rules] == [
        ("Facebook leads", "Facebook", xena, None)
    ]
    assert rows(page.list) == ["1. Facebook leads\nSource Facebook · any territory · any product → Xena Seller"]
    assert new_lead_owner(desk, api, "Facebook") == xena
    assert new_lead_owner(desk, api, "Website form") != xena  # no rule for it

    # A catch-all rule for Yuri, moved first with Alt+Up: it now wins for Facebook leads too.
    desk.run(api.post("/api/assignment-rules", {"name": "Everything to Yuri", "user_id": yuri}))
    settle(desk, panel)
    page.reload()
    settle(desk, panel)
    click_row(qtbot, page.list, "2. Everything to Yuri")
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    settle(desk, panel)
    assert [r["name"] for r in desk.run(api.get("/api/assignment-rules"))] == ["Everything to Yuri", "Facebook leads"]
    assert rows(page.list)[0].startswith("1. Everything to Yuri")
    assert new_lead_owner(desk, api, "Facebook") == yuri

    # Delete it again (Del, then confirm): Facebook leads go to Xena once more.
    qtbot.keyClick(page.list, Qt.Key.Key_Delete)
    question = next(w for w in page.findChildren(QMessageBox) if w.isVisible())
    assert "Delete the rule Everything to Yuri?" in question.text()
    next(b for b in question.buttons() if b.text() == "Delete").click()
    settle(desk, panel)
    assert [r["name"] for r in desk.run(api.get("/api/assignment-rules"))] == ["Facebook leads"]
    assert new_lead_owner(desk, api, "Facebook") == xena


def test_a_team_rule_round_robins_among_active_members(desk: Desk, qtbot: QtBot) -> None:
    ana = desk.create_user("ana@example.com", full_name="Ana North", team="North")
    gone = desk.create_user("gus@example.com", full_name="Gus Gone", team="North", active=False)
    ben = desk.create_user("ben@example.com", full_name="Ben North", team="North")
    api, panel, page = open_panel(desk, qtbot, "assignment")

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(RuleDialog)
    qtbot.keyClicks(dialog.name, "Web to North")
    dialog.source.setCurrentIndex(dialog.source.findText("Website form"))
    qtbot.mouseClick(dialog.to_team, Qt.MouseButton.LeftButton)
    assert dialog.team.isEnabled() and not dialog.user.isEnabled()
    dialog.team.setCurrentIndex(dialog.team.findText("North"))
    save(qtbot, dialog)
    settle(desk, panel)

    rule = desk.run(api.get("/api/assignment-rules"))[0]
    assert rule["team_id"] is not None and rule["user_id"] is None and rule["source"] == "Website form"
    assert rows(page.list) == [
        "1. Web to North\nSource Website form · any territory · any product → round-robin in North"
    ]
    owners = [new_lead_owner(desk, api, "Website form") for _ in range(4)]
    assert owners == [ana, ben, ana, ben]
    assert gone not in owners

    # The fallback team: leads no rule takes are shared in North too (instead of staying with their creator).
    assert new_lead_owner(desk, api, "Event") not in (ana, ben)
    focus(desk, page.fallback)
    qtbot.keyClick(page.fallback, Qt.Key.Key_Down)  # "No team" -> North
    settle(desk, panel)
    assert desk.run(api.get("/api/settings"))["values"]["leads.default_team_id"] == rule["team_id"]
    assert "now go round-robin to North" in page.notice_text.text()
    assert new_lead_owner(desk, api, "Event") == ana
