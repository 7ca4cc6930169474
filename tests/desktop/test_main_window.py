"""The main window against the real server: what the sidebar offers, the bell, the user menu."""

from __future__ import annotations

from typing import Any

import httpx
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.account.dialogs import ChangePasswordDialog, TotpSetupDialog
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.modules import CATALOG, ModulePage
from crm_desktop.widgets.empty_state import EmptyState
from tests.desktop.conftest import Desk


def open_main(desk: Desk, qtbot: QtBot, email: str = "ada@example.com", role: str = "Admin") -> MainWindow:
    api = desk.signed_in_api(email, role=role)
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    window.show()
    window.open_nth_module(1)
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return window


def notify(desk: Desk, user_id: int, title: str) -> None:
    from crm_server.admin import service

    async def insert() -> None:
        async with desk.server.session() as s:
            service.notify(s, user_id, "test", title, "from the test")

    desk.on_server(insert())


def test_sidebar_lists_only_what_the_role_may_view(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot, "sam@example.com", role="Salesperson")
    assert window.sidebar.keys() == [
        "home",
        "leads",
        "clients",
        "activities",
        "proposals",
        "orders",
        "commissions",
        "invoices",
        "products",
        "stock",
        "reports",
    ]
    assert window.current_module == "home"  # everyone lands on Home (Ctrl+1)
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.current_module == "activities"
    page = window.stack.currentWidget()
    assert isinstance(page, ModulePage)
    if isinstance(page.content, EmptyState):  # until the module is built: a calm empty state
        assert "later" not in page.content.text.text().lower()


def test_admin_sees_every_module_and_the_admin_panel(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    assert window.sidebar.keys()[-1] == "admin" and window.sidebar.keys() == [m.key for m in CATALOG]
    window.open_module("admin")
    page = window.stack.currentWidget()
    assert isinstance(page, ModulePage) and page.module.key == "admin"
    try:
        from crm_desktop.views.admin.panel import AdminPanel
    except ModuleNotFoundError:
        assert isinstance(page.content, EmptyState)
    else:
        assert isinstance(page.content, AdminPanel)


def test_sidebar_follows_a_live_change_of_my_role(desk: Desk, qtbot: QtBot) -> None:
    def grants(*modules: str) -> dict[str, Any]:
        return {m: {"actions": ["view"], "scope": "all"} for m in modules}

    async def make_role(http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.post(
            "/api/roles", json={"name": "Office", "permissions": grants("admin", "leads", "tickets")}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    role = desk.admin_http(make_role)
    window = open_main(desk, qtbot, "olga@example.com", role="Office")
    assert window.sidebar.keys() == ["home", "leads", "tickets", "admin"]
    window.open_module("leads")

    async def drop_leads(http: httpx.AsyncClient) -> None:
        body = {
            "name": "Office",
            "description": "",
            "require_2fa": False,
            "permissions": grants("admin", "tickets", "reports"),
            "version": role["version"],
        }
        response = await http.put(f"/api/roles/{role['id']}", json=body)
        assert response.status_code == 200, response.text

    desk.admin_http(drop_leads)
    desk.wait_until(
        lambda: window.sidebar.keys() == ["home", "tickets", "reports", "admin"],
        message=f"sidebar still {window.sidebar.keys()}",
    )
    assert "leads" not in window.pages and window.current_module == "home"


def test_bell_counts_notifications_live_and_marks_them_read(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    me = window.session.me
    desk.wait(0.3)
    assert window.bell.count == 0
    notify(desk, me.id, "Invoice #12 was paid")
    desk.wait_until(lambda: window.bell.count == 1, message="the bell did not count the new notification")
    notify(desk, me.id, "New lead from the website")
    desk.wait_until(lambda: window.bell.count == 2)
    assert window.bell.badge_text == "2"
    qtbot.mouseClick(window.bell, Qt.MouseButton.LeftButton)
    popup = window.popup
    assert popup is not None
    desk.wait_until(lambda: popup.list.count() == 2)
    assert "New lead" in popup.list.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    qtbot.mouseClick(popup.mark_all, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: window.bell.count == 0, message="mark all as read did not clear the bell")
    desk.wait_until(lambda: all(i.read_at is not None for i in window.notifications.items))
    row = popup.list.itemWidget(popup.list.item(0))
    assert "just now" in [label.text() for label in row.findChildren(QLabel)]  # format.ago, one way to say it


def test_notification_settings_from_the_user_menu(desk: Desk, qtbot: QtBot) -> None:
    """One checkbox per kind with the server's words; Save sends only what changed, the server keeps it."""
    from crm_desktop.api import notifications
    from crm_desktop.views.account.notification_prefs import NotificationPrefsDialog

    window = open_main(desk, qtbot)
    window.notification_prefs_action.trigger()
    dialog = _dialog(NotificationPrefsDialog)
    desk.wait_until(lambda: dialog.loaded, message="the settings did not load")
    kinds = desk.run(notifications.preferences(window.api))
    assert [dialog.checks[k.kind].text() for k in kinds] == [k.label for k in kinds]
    first = kinds[0]
    dialog.checks[first.kind].click()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the dialog stayed open")
    after = {k.kind: k.enabled for k in desk.run(notifications.preferences(window.api))}
    assert after == {k.kind: (not k.enabled if k.kind == first.kind else k.enabled) for k in kinds}


def _dialog(kind: type[QWidget]) -> Any:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    assert found, f"no {kind.__name__} open"
    return found[0]


def test_two_factor_set_up_from_the_user_menu_shows_the_qr_code(desk: Desk, qtbot: QtBot) -> None:
    import pyotp

    window = open_main(desk, qtbot)
    assert window.totp_action.isEnabled()
    window.totp_action.trigger()
    dialog = _dialog(TotpSetupDialog)
    desk.wait_until(lambda: dialog.form.setup is not None)
    assert dialog.form.qr.loaded
    qtbot.keyClicks(dialog.form.code, pyotp.TOTP(dialog.form.setup.secret).now())
    qtbot.keyClick(dialog.form.code, Qt.Key.Key_Return)
    desk.wait_until(lambda: dialog.form.codes)
    qtbot.mouseClick(dialog.form.done_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: window.session.me.totp_enabled, message="Me was not reloaded")
    assert not window.totp_action.isEnabled()


def test_change_password_from_the_user_menu(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    window.password_action.trigger()
    dialog = _dialog(ChangePasswordDialog)
    form = dialog.form
    qtbot.keyClicks(form.current, "wrong-password")
    qtbot.keyClicks(form.new, "Harbour-violin-Pepper-31")
    qtbot.keyClicks(form.repeat, "Harbour-violin-Pepper-31")
    qtbot.keyClick(form.repeat, Qt.Key.Key_Return)
    desk.wait_until(lambda: form.current.property("invalid"), message="the wrong current password was not marked")
    assert "not right" in form.current.toolTip() and dialog.isVisible()
    form.current.clear()
    from tests.support import PASSWORD

    qtbot.keyClicks(form.current, PASSWORD)
    qtbot.keyClick(form.repeat, Qt.Key.Key_Return)
    desk.wait_until(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), message="the dialog stayed open")
    assert "password is changed" in window.notice.label.text()


def test_search_box_shortcut_and_results(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "zz-nothing")
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    popup = window.search_controller.popup
    desk.wait_until(lambda: popup.isVisible())
    assert popup.note.isVisible() and popup.note.text()


def test_profile_from_the_user_menu_says_what_is_not_set_one_way(desk: Desk, qtbot: QtBot) -> None:
    import itertools

    from crm_desktop import format
    from crm_desktop.views.account.dialogs import ProfileDialog

    window = open_main(desk, qtbot)
    window.profile_action.trigger()
    dialog = _dialog(ProfileDialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert window.session.me.email in texts
    pairs = dict(itertools.pairwise(texts))
    assert pairs["Phone"] == format.EMPTY and pairs["Two-factor sign-in"] == "Off"
