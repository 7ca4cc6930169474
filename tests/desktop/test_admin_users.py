"""Admin panel, users page: create through the dialog, a field error next to its field,
deactivation that hands the user's open records to a colleague, and the other account actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.views.admin import AdminPanel
from crm_desktop.views.admin.users import DeactivateDialog, PasswordDialog, UserDialog, UsersPage
from tests.desktop.conftest import ADMIN_EMAIL, PASSWORD, Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    the_dialog,
)
from tests.server.test_jobs import workers
from tests.support import Smtp


def open_users(desk: Desk, qtbot: QtBot) -> tuple[ApiClient, AdminPanel, UsersPage]:
    api, panel, page = open_panel(desk, qtbot, "users")
    assert isinstance(page, UsersPage) and page.roles
    return api, panel, page


def emails(page: UsersPage) -> list[str]:
    return [row.email for row in page.model.rows()]


def test_create_user_through_the_dialog(desk: Desk, qtbot: QtBot) -> None:
    api, _panel, page = open_users(desk, qtbot)
    assert emails(page) == [ADMIN_EMAIL]
    focus(desk, page.table.view)
    qtbot.keyClick(page.table.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # Ctrl+N: new user
    dialog = the_dialog(UserDialog)
    qtbot.keyClicks(dialog.full_name, "Bea Builder")
    qtbot.keyClicks(dialog.email, "bea@example.com")
    qtbot.keyClicks(dialog.phone, "+40 721 000 111")
    dialog.role.setCurrentIndex(dialog.role.findText("Salesperson"))
    qtbot.mouseClick(dialog.set_password, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.password, PASSWORD)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: "bea@example.com" in emails(page), message="the new user is not in the list")
    assert not shiboken6.isValid(dialog)  # closed (and deleted) on success
    row = next(r for r in page.model.rows() if r.email == "bea@example.com")
    assert row.full_name == "Bea Builder" and row.must_change_password is True
    assert page.roles[row.role_id].name == "Salesperson"
    # The server has them, and the initial password works (they must change it first).
    stored = desk.run(api.get("/api/users", search="bea"))
    assert [u["phone"] for u in stored["items"]] == ["+40 721 000 111"]
    signed_in = desk.run(auth.login(desk.api(), "bea@example.com", PASSWORD))
    assert signed_in.user.must_change_password


def test_new_user_dialog_has_a_title_and_waits_for_a_chosen_role(desk: Desk, qtbot: QtBot) -> None:
    api, _panel, page = open_users(desk, qtbot)
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(UserDialog)
    assert dialog.windowTitle() == "New user"
    assert dialog.heading.isVisible() and dialog.heading.text() == "New user"
    # No role is chosen for the person (never Admin by default): Create waits and says why.
    assert dialog.role.currentIndex() == -1 and dialog.role.currentData() is None
    assert dialog.role.placeholderText() == "Pick a role…"
    assert not dialog.ok.isEnabled() and dialog.ok.toolTip() == "Pick a role first"
    qtbot.keyClicks(dialog.full_name, "Nora Newcomer")
    qtbot.keyClicks(dialog.email, "nora@example.com")
    qtbot.keyClick(dialog.email, Qt.Key.Key_Return)  # Enter does not create a user without a role
    desk.wait(0.2)
    assert dialog.isVisible() and desk.run(api.get("/api/users"))["total"] == 1

    focus(desk, dialog.role)
    qtbot.keyClick(dialog.role, Qt.Key.Key_Down)  # the keyboard picks the first role in the list
    assert dialog.role.currentData() is not None and dialog.ok.isEnabled() and not dialog.ok.toolTip()
    dialog.role.setCurrentIndex(dialog.role.findText("Salesperson"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the dialog did not close")
    stored = desk.run(api.get("/api/users", search="nora"))["items"]
    assert [page.roles[u["role_id"]].name for u in stored] == ["Salesperson"]


def test_duplicate_email_is_shown_next_to_the_email_field(desk: Desk, qtbot: QtBot) -> None:
    api, _panel, page = open_users(desk, qtbot)
    page.new_button.click()
    dialog = the_dialog(UserDialog)
    qtbot.keyClicks(dialog.full_name, "Second Admin")
    qtbot.keyClicks(dialog.email, ADMIN_EMAIL.upper())  # same address, other case
    dialog.role.setCurrentIndex(dialog.role.findText("Salesperson"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: errors.is_marked(dialog.email), message="the email field was not marked")
    label = dialog.email.property("_fieldErrorLabel")
    assert label is not None and label.isVisible()
    assert label.text() == "Another user has this email."
    # Under the email field, in the email field's own column, and nowhere else.
    assert label.parentWidget() is dialog.email.parentWidget()
    assert not errors.is_marked(dialog.full_name)
    assert dialog.isVisible()  # the form stays open with what was typed
    assert dialog.full_name.text() == "Second Admin"
    assert desk.run(api.get("/api/users"))["total"] == 1


def test_deactivate_hands_open_records_to_a_colleague(desk: Desk, qtbot: QtBot) -> None:
    api, _panel, page = open_users(desk, qtbot)
    sam = desk.create_user("sam@example.com", full_name="Sam Seller")
    rita = desk.create_user("rita@example.com", full_name="Rita Receiver")
    lead = desk.run(api.post("/api/leads", {"person_name": "Open Lead", "owner_id": sam}))
    assert lead["owner_id"] == sam
    focus(desk, page.table.view)
    qtbot.keyClick(page.table.view, Qt.Key.Key_F5)  # F5: reload
    desk.wait_until(lambda: "sam@example.com" in emails(page) and not page.model.loading)

    assert page.table.select_key(sam)
    focus(desk, page.table.view)
    qtbot.keyClick(page.table.view, Qt.Key.Key_Delete)  # Del: deactivate
    dialog = the_dialog(DeactivateDialog)
    assert not dialog.ok.isEnabled()  # nobody chosen yet
    qtbot.keyClicks(dialog.heir, "rita")
    desk.wait_until(lambda: dialog.heir.matches.rowCount() == 1, message="no match for rita")
    dialog.heir.choose(0)
    assert dialog.heir.user_id == rita and dialog.ok.isEnabled()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the deactivate dialog did not close")
    desk.wait_until(
        lambda: page.model.find(sam) is None and not page.model.loading, message="Sam is still listed as active"
    )
    assert "Sam Seller is deactivated; 1 open record(s) went to Rita Receiver" in page.notice_text.text()

    user_rows = desk.run(api.get("/api/audit", entity="user", entity_id=sam))["items"]
    deactivated = next(r for r in user_rows if r["action"] == "deactivated")
    assert {"field": "records_reassigned_to", "old": None, "new": rita} in deactivated["changes"]
    lead_rows = desk.run(api.get("/api/audit", entity="lead", entity_id=lead["id"]))["items"]
    assert [r["action"] for r in lead_rows if r["action"] == "reassigned"] == ["reassigned"]
    assert desk.run(api.get(f"/api/leads/{lead['id']}"))["owner_id"] == rita
    assert desk.run(api.get(f"/api/users/{sam}"))["active"] is False


def test_account_actions_unlock_password_reset_role_reactivate(desk: Desk, qtbot: QtBot, smtp: Smtp) -> None:
    api, _panel, page = open_users(desk, qtbot)
    desk.run(api.patch("/api/settings", {"values": smtp.settings()}))
    sam = desk.create_user(
        "sam@example.com", full_name="Sam Seller", locked_until=datetime.now(UTC) + timedelta(hours=1)
    )
    page.reload_list()
    desk.wait_until(lambda: page.model.find(sam) is not None and not page.model.loading)
    assert page.table.select_key(sam)
    row = page.model.find(sam)
    assert row is not None and page.model.index(row, 4).data() == "Locked"
    assert page.unlock_action.isEnabled()

    page.unlock_action.trigger()
    desk.wait_until(
        lambda: any(r.id == sam and r.locked_until is None for r in page.model.rows()), message="not unlocked"
    )
    assert desk.run(api.get(f"/api/users/{sam}"))["locked_until"] is None

    page.table.select_key(sam)
    page.password_action.trigger()
    dialog = the_dialog(PasswordDialog)
    qtbot.keyClicks(dialog.password, "short")
    dialog.buttons.accepted.emit()
    desk.wait_until(lambda: errors.is_marked(dialog.password), message="the password policy was not shown")
    dialog.password.clear()
    dialog.findChild(QPushButton, "generatePassword").click()
    temporary = dialog.password.text()
    assert len(temporary) >= 16
    dialog.buttons.accepted.emit()
    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the password dialog did not close")
    signed_in = desk.run(auth.login(desk.api(), "sam@example.com", temporary))
    assert signed_in.user.must_change_password

    page.table.select_key(sam)
    page.reset_action.trigger()

    async def deliver() -> None:  # the reset code is mailed by a job after the request
        async with workers(desk.server.database_url, n=1):
            await smtp.wait_for(1, timeout=20)

    desk.run(deliver(), timeout=40)
    mails = smtp.messages
    assert mails[0]["To"] == "sam@example.com" and mails[0]["Subject"] == "Reset your CRM password"

    page.table.select_key(sam)
    manager = next(a for a in page.role_menu.actions() if a.text() == "Manager")
    manager.trigger()
    desk.wait_until(lambda: "now has the role Manager" in page.notice_text.text(), message="role not changed")
    roles = {r["name"]: r["id"] for r in desk.run(api.get("/api/roles"))}
    assert desk.run(api.get(f"/api/users/{sam}"))["role_id"] == roles["Manager"]

    version = desk.run(api.get(f"/api/users/{sam}"))["version"]
    desk.run(api.post(f"/api/users/{sam}/deactivate", {"version": version}))
    page.active_filter.setCurrentIndex(page.active_filter.findText("Deactivated"))
    desk.wait_until(lambda: not page.model.loading and page.model.find(sam) is not None)
    page.table.select_key(sam)
    assert page.reactivate_button.isEnabled() and not page.deactivate_button.isEnabled()
    page.reactivate_button.click()
    desk.wait_until(lambda: "Sam Seller can sign in again." in page.notice_text.text())
    assert desk.run(api.get(f"/api/users/{sam}"))["active"] is True


def test_edit_conflict_offers_reload_and_then_saves(desk: Desk, qtbot: QtBot) -> None:
    """Another admin saved first: the dialog says so, Reload shows their version, then saving works."""
    api, _panel, page = open_users(desk, qtbot)
    olga = desk.create_user("olga@example.com", full_name="Olga Old")
    page.reload_list()
    desk.wait_until(lambda: page.model.find(olga) is not None and not page.model.loading)
    page.table.select_key(olga)
    page.edit_button.click()
    dialog = the_dialog(UserDialog)
    other = desk.signed_in_api("boss@example.com")
    version = desk.run(other.get(f"/api/users/{olga}"))["version"]
    desk.run(other.patch(f"/api/users/{olga}", {"version": version, "full_name": "Olga By Boss"}))

    qtbot.keyClicks(dialog.phone, "+40 700 000 000")
    dialog.ok.click()
    desk.wait_until(lambda: any(b.isVisible() for b in dialog.findChildren(QMessageBox)), message="no conflict box")
    box = next(b for b in dialog.findChildren(QMessageBox) if b.isVisible())
    assert "Someone else changed this record" in box.text()
    next(b for b in box.buttons() if b.text() == "Reload").click()
    desk.wait_until(lambda: dialog.full_name.text() == "Olga By Boss", message="the dialog did not reload")
    qtbot.keyClicks(dialog.phone, "+40 700 000 000")
    dialog.ok.click()
    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the second save did not go through")
    stored = desk.run(api.get(f"/api/users/{olga}"))
    assert (stored["full_name"], stored["phone"]) == ("Olga By Boss", "+40 700 000 000")
