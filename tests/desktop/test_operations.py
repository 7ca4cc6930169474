"""operations.run: success announces what changed; failures go through the one error handler."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QMessageBox, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop import operations
from crm_desktop.operations import errors
from tests.desktop.conftest import Desk


def _form(qtbot: QtBot) -> tuple[QWidget, QLineEdit]:
    form = QWidget()
    layout = QVBoxLayout(form)
    email = QLineEdit()
    layout.addWidget(email)
    qtbot.addWidget(form)
    form.show()
    return form, email


def test_success_announces_changed_areas(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    form, _ = _form(qtbot)
    seen: list[frozenset[str]] = []
    results: list[object] = []
    operations.change_bus().changed.connect(seen.append)
    task = operations.run(
        form, api.post("/api/teams", {"name": "North"}), success=results.append, changed=frozenset({"admin.teams"})
    )
    created = desk.run(task)
    assert isinstance(created, dict) and created["name"] == "North"
    assert results == [created]
    assert frozenset({"admin.teams"}) in seen
    operations.change_bus().changed.disconnect(seen.append)


def test_field_error_lands_next_to_the_field(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    form, email = _form(qtbot)
    roles = desk.run(api.get("/api/roles"))
    payload = {"email": "not-an-email", "full_name": "X", "role_id": roles[0]["id"]}
    result = desk.run(operations.run(form, api.post("/api/users", payload), fields={"email": email}))
    assert result is None
    assert errors.is_marked(email)
    assert email.toolTip()
    label = email.property("_fieldErrorLabel")
    assert label is not None and label.isVisible() and label.text() == email.toolTip()
    qtbot.keyClicks(email, "a")  # editing the field clears the error
    assert not errors.is_marked(email)


def test_forbidden_names_the_missing_permission(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api("sam@example.com", role="Salesperson")
    form, _ = _form(qtbot)
    desk.run(operations.run(form, api.get("/api/settings")))
    boxes = [w for w in form.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "admin.view" in boxes[0].text()


def test_stale_version_offers_reload(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    form, _ = _form(qtbot)
    team = desk.run(api.post("/api/teams", {"name": "South"}))
    desk.run(api.put(f"/api/teams/{team['id']}", {"name": "South-1", "version": team["version"]}))
    reloaded: list[bool] = []
    stale = api.put(f"/api/teams/{team['id']}", {"name": "South-2", "version": team["version"]})
    assert desk.run(operations.run(form, stale, reload=lambda: reloaded.append(True))) is None
    box = next(w for w in form.findChildren(QMessageBox) if w.isVisible())
    assert "Someone else changed" in box.text()
    reload_button = next(b for b in box.buttons() if b.text() == "Reload")
    reload_button.click()
    assert reloaded == [True]


def test_offline_keeps_the_form_and_tells_the_window(desk: Desk, qtbot: QtBot) -> None:
    from crm_desktop.api.client import ApiClient
    from tests.support import free_port

    class Window(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.notices: list[str] = []

        def show_notice(self, text: str) -> None:
            self.notices.append(text)

    window = Window()
    layout = QVBoxLayout(window)
    email = QLineEdit("typed by hand")
    layout.addWidget(email)
    qtbot.addWidget(window)
    api = ApiClient(f"http://127.0.0.1:{free_port()}")
    desk.clients.append(api)
    states: list[str] = []
    api.state_changed.connect(states.append)
    result = desk.run(operations.run(email, api.patch("/api/teams/1", {"name": "x"}), fields={"name": email}))
    assert result is None
    assert window.notices and "cannot be reached" in window.notices[0]
    assert email.text() == "typed by hand" and states[-1] == "offline"
