"""The rule editor driven like a person: fields picked from the record's own (never typed), a date
offset said as "1 day before", condition groups inside groups that come back as they were saved,
a template e-mail action; and a manager reaching Automation from the sidebar, whose rule is their
team's and who is offered no webhook and only their team's people."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from crm_desktop import format
from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.admin.automation import ActionDialog, AutomationPage, RuleDialog
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.modules import ModulePage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import open_panel, settle, the_dialog
from tests.support import PASSWORD


def _pick(combo: Any, key: str) -> None:
    index = combo.findData(key)
    assert index >= 0, (key, [combo.itemData(i) for i in range(combo.count())])
    combo.setCurrentIndex(index)


def _ok(qtbot: QtBot, buttons: QDialogButtonBox) -> None:
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def _condition(qtbot: QtBot, dialog: RuleDialog, field: str, op: str, value: str) -> None:
    """Add a comparison to the selected group and fill it in."""
    tree = dialog.conditions.tree
    qtbot.mouseClick(dialog.conditions.add_condition, Qt.MouseButton.LeftButton)
    item = tree.currentItem()
    assert item is not None
    name, comparison = tree.itemWidget(item, 0), tree.itemWidget(item, 1)
    assert isinstance(name, QComboBox) and isinstance(comparison, QComboBox)
    _pick(name, field)
    _pick(comparison, op)
    line = tree.itemWidget(item, 2)
    assert isinstance(line, QLineEdit)
    qtbot.keyClicks(line, value)


def test_an_admin_nests_conditions_picks_fields_and_says_1_day_before(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "automation")
    assert isinstance(page, AutomationPage)
    template = desk.run(
        api.post(
            "/api/emails/templates",
            {"name": "Closing soon", "entity": "lead", "subject": "About {{lead.company}}", "body": "Hello."},
        )
    )
    page.reload()
    settle(desk, panel)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(RuleDialog)
    qtbot.keyClicks(dialog.name, "Closing soon")
    _pick(dialog.entity, "lead")
    _pick(dialog.trigger, "date_reached")
    dates = [dialog.trigger_field.itemData(i) for i in range(dialog.trigger_field.count())]
    assert "expected_close_date" in dates and "company" not in dates  # a date rule offers dates only
    _pick(dialog.trigger_field, "expected_close_date")
    assert dialog.trigger_field.currentText() == format.label("expected_close_date")  # words, not the code
    dialog.offset_amount.selectAll()
    qtbot.keyClicks(dialog.offset_amount, "1")
    _pick(dialog.offset_unit, "days")
    _pick(dialog.offset_direction, "before")
    _pick(dialog.match, "all")
    _condition(qtbot, dialog, "source", "eq", "Referral")
    dialog.conditions.tree.clearSelection()
    dialog.conditions.tree.setCurrentItem(None)  # the new group goes to the top
    qtbot.mouseClick(dialog.conditions.add_group, Qt.MouseButton.LeftButton)
    group = dialog.conditions.tree.currentItem()
    assert group is not None
    match = dialog.conditions.tree.itemWidget(group, 0)
    assert isinstance(match, QComboBox)
    _pick(match, "any")
    _condition(qtbot, dialog, "value", "gt", "10000")
    dialog.conditions.tree.setCurrentItem(group)
    _condition(qtbot, dialog, "tags", "contains", "vip")
    qtbot.mouseClick(dialog.add_action, Qt.MouseButton.LeftButton)
    action = the_dialog(ActionDialog)
    _pick(action.kind, "send_email")
    _pick(action.email_template, str(template["id"]))
    _ok(qtbot, action.buttons)
    assert dialog.action_list.item(0).text() == 'Send a template e-mail: "Closing soon"'
    _ok(qtbot, dialog.buttons)
    settle(desk, panel)
    rule = next(r for r in desk.run(api.get("/api/automation/rules")) if r["name"] == "Closing soon")
    assert rule["trigger"] == {
        "kind": "date_reached",
        "field": "expected_close_date",
        "from_value": None,
        "to_value": None,
        "offset_minutes": -1440,
        "source": None,
    }
    assert rule["conditions"] == {
        "match": "all",
        "items": [
            {"field": "source", "op": "eq", "value": "Referral"},
            {
                "match": "any",
                "items": [
                    {"field": "value", "op": "gt", "value": "10000"},
                    {"field": "tags", "op": "contains", "value": "vip"},
                ],
            },
        ],
    }
    assert rule["actions"][0]["template_id"] == template["id"]
    assert f"1 day before {format.label('expected_close_date').lower()}" in page.list.currentItem().text()

    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)  # it comes back as it was saved
    again = the_dialog(RuleDialog)
    assert (again.offset_amount.value(), again.offset_unit.currentData(), again.offset_direction.currentData()) == (
        1,
        "days",
        "before",
    )
    assert again.conditions.group().model_dump(mode="json") == rule["conditions"]
    nested = again.conditions.tree.topLevelItem(1)
    assert nested is not None and nested.childCount() == 2
    again.reject()


def test_a_manager_reaches_automation_from_the_sidebar(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("mona@example.com", role="Manager", full_name="Mona Manager", team="North")
    desk.create_user("sam@example.com", full_name="Sam North", team="North")
    desk.create_user("sue@example.com", full_name="Sue South", team="South")
    api = desk.api()
    desk.run(auth.login(api, "mona@example.com", PASSWORD))
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    assert "automation" in window.sidebar.keys() and "admin" not in window.sidebar.keys()
    window.open_module("automation")
    shown = window.stack.currentWidget()
    assert isinstance(shown, ModulePage)
    panel = shown.content
    page = panel.pages["automation"]  # type: ignore[attr-defined]
    assert isinstance(page, AutomationPage)
    settle(desk, panel)  # type: ignore[arg-type]
    assert page.list.count() == 0  # the admins' rules (the seed's) are not hers
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(RuleDialog)
    qtbot.keyClicks(dialog.name, "North coast")
    _pick(dialog.entity, "lead")
    _pick(dialog.trigger, "field_changed")
    _pick(dialog.trigger_field, "territory")
    dialog.to_value.setEditText("Coast")
    qtbot.mouseClick(dialog.add_action, Qt.MouseButton.LeftButton)
    action = the_dialog(ActionDialog)
    kinds = [action.kind.itemData(i) for i in range(action.kind.count())]
    assert "call_webhook" not in kinds and "send_email" in kinds
    people = [action.user.itemText(i) for i in range(action.user.count())]
    assert "Sam North" in people and "Sue South" not in people
    _pick(action.kind, "add_tag")
    qtbot.keyClicks(action.tag, "north")
    _ok(qtbot, action.buttons)
    _ok(qtbot, dialog.buttons)
    settle(desk, panel)  # type: ignore[arg-type]
    [rule] = desk.run(api.get("/api/automation/rules"))
    assert rule["name"] == "North coast" and rule["team_id"] is not None
    assert rule["trigger"]["field"] == "territory" and rule["trigger"]["to_value"] == "Coast"
    assert "North coast" in page.list.currentItem().text()
