"""The Clients module driven as a person would: the list, the New client dialog (duplicate VAT refused
with a link to the first client, a same name only warned), the detail window (contacts, a refused
email next to its field, archive and restore) and a colleague's change showing up live."""

from __future__ import annotations

from typing import Any

import httpx
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations import errors
from crm_desktop.session import Session
from crm_desktop.views.clients.detail import ClientWindow, open_client
from crm_desktop.views.clients.dialogs import ClientDialog, ContactDialog
from crm_desktop.views.clients.list import ClientsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, the_dialog


def open_clients(desk: Desk, qtbot: QtBot, live: bool = False) -> tuple[ApiClient, Session, ClientsPage]:
    api = desk.signed_in_api("ada@example.com", role="Admin")
    session = Session(api, desk.run(auth.me(api)))
    page = ClientsPage(session)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    if live:
        session.start()
        desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    desk.wait_until(lambda: page.model.total is not None and not page.model.loading)
    return api, session, page


def names(page: ClientsPage) -> list[str]:
    return [row.name for row in page.model.rows()]


def create(desk: Desk, api: ApiClient, **fields: Any) -> dict[str, Any]:
    return dict(desk.run(api.post("/api/clients", fields)))


def open_window(desk: Desk, page: ClientsPage, client_id: int) -> ClientWindow:
    window = open_client(page, page.session, client_id)
    desk.wait_until(lambda: window.client is not None and not window.is_busy(), message="the client did not load")
    return window


def test_empty_list_says_how_to_start_and_create_through_the_dialog(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    assert page.table.empty.isVisible() and "Ctrl+N" in page.table.empty.text.text()
    focus(desk, page.search)  # the list is empty: the search box has the focus
    qtbot.keyClick(page.search, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = the_dialog(ClientDialog)
    qtbot.keyClicks(dialog.form.name, "Acme SRL")
    qtbot.keyClicks(dialog.form.vat_number, "RO 123 456")
    qtbot.keyClicks(dialog.form.phone, "+40 721 000 111")
    qtbot.keyClicks(dialog.form.email, "office@acme.example")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: names(page) == ["Acme SRL"], message="the new client is not in the list")
    assert not shiboken6.isValid(dialog)
    assert "Acme SRL is created." in page.notice_text.text()
    desk.wait_until(lambda: page.table.current_row() is not None)
    assert page.table.current_row().phone == "+40721000111"  # type: ignore[union-attr]
    stored = desk.run(api.get("/api/clients", q="acme"))["items"]
    assert [(c["name"], c["vat_number"], c["email"]) for c in stored] == [
        ("Acme SRL", "RO 123 456", "office@acme.example")
    ]
    # Enter on the selected row opens its window.
    focus(desk, page.table.view)
    qtbot.keyClick(page.table.view, Qt.Key.Key_Return)
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ClientWindow) and w.isVisible())
    desk.wait_until(lambda: window.client is not None)
    assert window.title.text() == "Acme SRL" and window.form.email.text() == "office@acme.example"


def test_same_vat_written_differently_is_refused_with_a_link_to_the_first(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    first = create(desk, api, name="Acme SRL", vat_number="123456")
    page.new_button.click()
    dialog = the_dialog(ClientDialog)
    qtbot.keyClicks(dialog.form.name, "Acme Trading")
    qtbot.keyClicks(dialog.form.vat_number, "RO 123 456")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: errors.is_marked(dialog.form.vat_number), message="the VAT field was not marked")
    label = dialog.form.vat_number.property("_fieldErrorLabel")
    assert label is not None and label.isVisible()
    assert label.text() == "A client with this VAT number exists already."
    assert not errors.is_marked(dialog.form.name) and dialog.isVisible()
    link = dialog.form.twin
    desk.wait_until(lambda: link.text() == "Open Acme SRL", message=f"no link to the first client: {link.text()!r}")
    assert link.isVisible()
    assert desk.run(api.get("/api/clients"))["total"] == 1

    qtbot.mouseClick(link, Qt.MouseButton.LeftButton)
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, ClientWindow) and w.isVisible())
    desk.wait_until(lambda: window.client is not None)
    assert window.client_id == first["id"] and window.title.text() == "Acme SRL"
    assert window.form.vat_number.text() == "123456"


def test_same_name_is_saved_with_a_warning(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    create(desk, api, name="Acme SRL")
    page.new_button.click()
    dialog = the_dialog(ClientDialog)
    qtbot.keyClicks(dialog.form.name, "acme  srl")
    qtbot.keyClick(dialog.form.name, Qt.Key.Key_Return)

    desk.wait_until(lambda: not shiboken6.isValid(dialog), message="the dialog did not close")
    desk.wait_until(lambda: len(page.model.rows()) == 2 and not page.model.loading)
    assert "Another client is called 'Acme SRL'" in page.notice_text.text()
    assert page.notice_link.isVisible() and page.notice_link.text() == "Open acme srl"
    assert desk.run(api.get("/api/clients"))["total"] == 2


def test_add_a_contact_in_the_detail_window(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    client = create(desk, api, name="Acme SRL")
    window = open_window(desk, page, client["id"])
    assert window.no_contacts.isVisible()
    qtbot.mouseClick(window.add_contact_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(ContactDialog)
    qtbot.keyClicks(dialog.name, "Ana Pop")
    qtbot.keyClicks(dialog.position, "Buyer")
    qtbot.keyClicks(dialog.email, "ana@acme.example")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: window.contacts.rowCount() == 1, message="the contact is not listed")
    assert window.contacts.item(0, 0).text() == "Ana Pop" and window.contacts.item(0, 2).text() == "ana@acme.example"
    assert window.selected_contact() is not None and window.selected_contact().name == "Ana Pop"  # type: ignore[union-attr]
    stored = desk.run(api.get(f"/api/clients/{client['id']}"))["contacts"]
    assert [(c["name"], c["position"]) for c in stored] == [("Ana Pop", "Buyer")]


def test_bad_email_is_shown_next_to_the_email_field_and_nothing_is_saved(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    client = create(desk, api, name="Acme SRL", email="office@acme.example")
    window = open_window(desk, page, client["id"])
    window.form.name.selectAll()
    qtbot.keyClicks(window.form.name, "Acme Group")
    window.form.email.selectAll()
    qtbot.keyClicks(window.form.email, "not an email")
    focus(desk, window.form.name)
    qtbot.keyClick(window.form.name, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)

    desk.wait_until(lambda: errors.is_marked(window.form.email), message="the email field was not marked")
    label = window.form.email.property("_fieldErrorLabel")
    assert label is not None and label.isVisible() and "not valid" in label.text()
    assert label.parentWidget() is window.form.email.parentWidget()
    assert not errors.is_marked(window.form.name)
    assert window.form.name.text() == "Acme Group"  # what was typed stays
    stored = desk.run(api.get(f"/api/clients/{client['id']}"))
    assert (stored["name"], stored["email"], stored["version"]) == (
        "Acme SRL",
        "office@acme.example",
        client["version"],
    )
    # Fixed, it saves.
    window.form.email.selectAll()
    qtbot.keyClicks(window.form.email, "hello@acme.example")
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: window.notice.text() == "Saved.", message=f"not saved: {window.notice.text()!r}")
    stored = desk.run(api.get(f"/api/clients/{client['id']}"))
    assert (stored["name"], stored["email"]) == ("Acme Group", "hello@acme.example")
    desk.wait_until(lambda: names(page) == ["Acme Group"], message="the list did not follow the save")


def test_archive_and_restore(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    client = create(desk, api, name="Acme SRL")
    create(desk, api, name="Beta SA")
    page.reload()
    desk.wait_until(lambda: names(page) == ["Acme SRL", "Beta SA"] and not page.model.loading)
    window = open_window(desk, page, client["id"])
    qtbot.mouseClick(window.archive_button, Qt.MouseButton.LeftButton)

    desk.wait_until(lambda: window.restore_button.isVisible(), message="not archived")
    assert not window.archive_button.isVisible() and not window.save_button.isEnabled()
    assert "Archived" in window.state.text()
    assert desk.run(api.get(f"/api/clients/{client['id']}"))["archived_at"] is not None
    desk.wait_until(lambda: names(page) == ["Beta SA"], message="the archived client is still listed")
    qtbot.mouseClick(page.archived, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: names(page) == ["Acme SRL"] and not page.model.loading)

    qtbot.mouseClick(window.restore_button, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: window.archive_button.isVisible(), message="not restored")
    assert desk.run(api.get(f"/api/clients/{client['id']}"))["archived_at"] is None
    desk.wait_until(
        lambda: names(page) == [] and not page.model.loading and page.model.total == 0,
        message="the restored client is still listed as archived",
    )
    assert page.table.empty.isVisible() and page.table.empty.title.text() == "No archived clients"


def test_a_colleagues_change_shows_in_the_open_list(desk: Desk, qtbot: QtBot) -> None:
    _api, _session, page = open_clients(desk, qtbot, live=True)

    async def add(http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.post("/api/clients", json={"name": "Delta Freight", "phone": "+40 721 000 222"})
        assert response.status_code == 201, response.text
        return dict(response.json())

    delta = desk.admin_http(add)
    desk.wait_until(lambda: names(page) == ["Delta Freight"], message="the new client did not appear")
    page.table.select_key(delta["id"])
    model_resets = []
    page.model.modelReset.connect(lambda: model_resets.append(1))

    async def rename(http: httpx.AsyncClient) -> None:
        response = await http.patch(
            f"/api/clients/{delta['id']}", json={"version": delta["version"], "email": "ops@delta.example"}
        )
        assert response.status_code == 200, response.text

    desk.admin_http(rename)
    desk.wait_until(lambda: page.model.rows()[0].email == "ops@delta.example", message="the edit did not show")
    assert page.model.index(0, 3).data() == "ops@delta.example"
    assert model_resets == []  # patched in place: the selection and scroll position stay
    assert page.table.current_row() is not None


def test_note_and_follow_up_from_the_detail_window(desk: Desk, qtbot: QtBot) -> None:
    api, _session, page = open_clients(desk, qtbot)
    client = create(desk, api, name="Acme SRL")
    window = open_window(desk, page, client["id"])
    assert window.no_follow_ups.isVisible()
    focus(desk, window.note)
    qtbot.keyClicks(window.note, "They want a quote for 40 units.")
    qtbot.keyClick(window.note, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    desk.wait_until(lambda: window.notice.text() == "Note added.", message="the note was not added")
    assert window.note.toPlainText() == ""
    timeline = desk.run(api.get(f"/api/clients/{client['id']}/timeline"))["items"]
    assert any(item["kind"] == "note" and item["text"] == "They want a quote for 40 units." for item in timeline)
    if window.timeline is not None:
        desk.wait_until(
            lambda: any("40 units" in t for t in window.timeline.texts()), message="the note is not on the timeline"
        )

    if not window.schedule_button.isVisible():  # the activities module is not in this build yet
        return
    qtbot.mouseClick(window.schedule_button, Qt.MouseButton.LeftButton)
    from crm_desktop.views.activities.schedule import ScheduleFollowUpDialog

    dialog = the_dialog(ScheduleFollowUpDialog)
    assert dialog.client_id == client["id"]
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    desk.wait_until(
        lambda: window.follow_ups.count() == 1 and window.follow_ups.isVisible(), message="the follow-up is not listed"
    )
    stored = desk.run(api.get("/api/follow-ups", client_id=client["id"]))["items"]
    assert len(stored) == 1 and stored[0]["status"] == "open"
