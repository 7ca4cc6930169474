"""Global search by keyboard in the main window: Ctrl+K, type, Down, Enter opens the record itself
(a client's window; for a contact, their client's window on that contact)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.views.clients.detail import ClientWindow
from crm_desktop.views.main_window import MainWindow
from tests.desktop.conftest import Desk
from tests.desktop.test_main_window import open_main


def popup_texts(window: MainWindow) -> list[str]:
    popup = window.search_controller.popup
    return [popup.list.item(i).text() for i in range(popup.list.count())]


def search_and_take_first(desk: Desk, qtbot: QtBot, window: MainWindow, text: str, group: str, title: str) -> None:
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, text)
    popup = window.search_controller.popup
    desk.wait_until(
        lambda: popup.isVisible() and any(t.startswith(title) for t in popup_texts(window)),
        message=f"{title} is not in the results: {popup_texts(window)}",
    )
    texts = popup_texts(window)
    hit_row = next(i for i, t in enumerate(texts) if t.startswith(title))
    assert group.upper() in texts[:hit_row]  # listed under its group
    qtbot.keyClick(window.search, Qt.Key.Key_Down)
    assert popup.current_hit() is not None
    while popup.list.currentRow() < hit_row:
        qtbot.keyClick(window.search, Qt.Key.Key_Down)
    assert popup.list.currentRow() == hit_row
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    assert not popup.isVisible()


def client_window(client_id: int) -> ClientWindow:
    found = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, ClientWindow) and w.isVisible() and w.client_id == client_id
    ]
    assert found, "the client's window did not open"
    return found[0]


def test_search_opens_a_client_by_keyboard(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.api
    acme: dict[str, Any] = desk.run(api.post("/api/clients", {"name": "Acme Widgets SRL", "vat_number": "RO 998877"}))
    desk.run(api.post("/api/clients", {"name": "Beta Logistics"}))

    search_and_take_first(desk, qtbot, window, "widgets", "Clients", "Acme Widgets SRL")
    assert window.current_module == "clients"
    detail = client_window(acme["id"])
    desk.wait_until(lambda: detail.client is not None, message="the client did not load")
    assert detail.title.text() == "Acme Widgets SRL" and detail.form.vat_number.text() == "RO 998877"


def test_a_contact_hit_opens_its_client_on_that_contact(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.api
    acme = desk.run(
        api.post(
            "/api/clients",
            {
                "name": "Acme Widgets SRL",
                "contacts": [{"name": "Ana Popescu", "email": "ana@acme.example"}, {"name": "Bogdan Ionescu"}],
            },
        )
    )
    ana = next(c for c in acme["contacts"] if c["name"] == "Ana Popescu")

    search_and_take_first(desk, qtbot, window, "popescu", "Contacts", "Ana Popescu")
    detail = client_window(acme["id"])
    desk.wait_until(
        lambda: detail.client is not None and detail.selected_contact() is not None,
        message="the contact was not selected",
    )
    assert detail.title.text() == "Acme Widgets SRL"
    assert detail.selected_contact().id == ana["id"]  # type: ignore[union-attr]
