"""Admin panel, roles page: the matrix really changes what a role may do on the server, and a
role that people still have cannot be deleted (the server's reason is shown)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem, QMessageBox
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.views.admin.common import NameDialog
from crm_desktop.views.admin.roles import RolesPage
from tests.desktop.conftest import PASSWORD, Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    settle,
    the_dialog,
)


def role_item(page: RolesPage, name: str) -> QListWidgetItem:
    for i in range(page.list.count()):
        item = page.list.item(i)
        if item.text().split("\n")[0] == name:
            return item
    raise AssertionError(f"no role {name} in the list")


def test_unticking_view_removes_the_module_from_the_role(desk: Desk, qtbot: QtBot) -> None:
    desk.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    sam = desk.api()
    desk.run(auth.login(sam, "sam@example.com", PASSWORD))
    before = desk.run(auth.me(sam)).permissions
    assert before["leads"].actions == ["view", "create", "edit"]

    api, panel, page = open_panel(desk, qtbot, "roles")
    page.list.setCurrentItem(role_item(page, "Salesperson"))
    assert page.current is not None and page.current.name == "Salesperson"
    view = page.matrix.boxes[("leads", "view")]
    assert view.isChecked() and page.matrix.boxes[("leads", "edit")].isChecked()
    # The matrix shows the role's grants as stored: each module's actions and record scope.
    for module, grant in page.current.permissions.items():
        assert [a for a in grant.actions if page.matrix.boxes[(module, a)].isChecked()] == grant.actions
        assert page.matrix.scopes[module].currentData() == grant.scope.value
    assert not page.save_button.isEnabled()  # nothing to save yet
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton)
    assert not view.isChecked()
    assert not page.matrix.boxes[("leads", "edit")].isChecked()  # no editing what you cannot see
    assert page.save_button.isEnabled()
    focus(desk, view)
    qtbot.keyClick(view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Ctrl+S
    settle(desk, panel)

    assert not page.dirty
    assert "The role Salesperson is saved" in page.notice_text.text()
    after = desk.run(auth.me(sam)).permissions
    assert "leads" not in after
    assert after["clients"] == before["clients"]  # the rest of the role is as it was
    stored = next(r for r in desk.run(api.get("/api/roles")) if r["name"] == "Salesperson")
    assert "leads" not in stored["permissions"] and stored["version"] == page.current.version


def test_copy_then_delete_a_role_in_use_is_refused_with_the_servers_reason(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "roles")
    page.list.setCurrentItem(role_item(page, "Manager"))
    page.copy_button.click()
    dialog = the_dialog(NameDialog)
    assert dialog.name.text() == "Copy of Manager"
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, "Area manager")
    dialog.buttons.accepted.emit()
    settle(desk, panel)
    copy = next(r for r in desk.run(api.get("/api/roles")) if r["name"] == "Area manager")
    manager = next(r for r in desk.run(api.get("/api/roles")) if r["name"] == "Manager")
    assert copy["permissions"] == manager["permissions"] and not copy["builtin"]
    assert page.current is not None and page.current.id == copy["id"]  # the copy is selected

    desk.create_user("mia@example.com", role="Area manager", full_name="Mia Manager")
    page.reload()
    settle(desk, panel)
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Delete)  # Del: delete, after a question
    question = next(w for w in page.findChildren(QMessageBox) if w.isVisible())
    assert "Delete the role Area manager?" in question.text()
    yes = next(b for b in question.buttons() if b.text() == "Delete")
    yes.click()
    settle(desk, panel)
    refusal = [w for w in page.findChildren(QMessageBox) if w.isVisible() and w is not question]
    assert refusal, "the refusal was not shown"
    assert refusal[0].text() == "1 user(s) still have this role; give them another role first."
    assert any(r["name"] == "Area manager" for r in desk.run(api.get("/api/roles")))
