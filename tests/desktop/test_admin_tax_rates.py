"""Admin panel, VAT rates: add a rate (Ins), rename and re-rate it (F2), deactivate it (Ctrl+D) and
activate it again; a duplicate name brings the server's words next to the name field. Rates are
never deleted. The server ends up exactly so."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.operations.errors import is_marked
from crm_desktop.views.admin.tax_rates import NOTE, RateDialog, TaxRatesPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, live_event, open_panel, settle, the_dialog
from tests.desktop.test_admin_pipelines import click_row, rows


def stored(desk: Desk, api: Any) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in desk.run(api.get("/api/tax-rates", include_inactive=True))}


def type_rate(qtbot: QtBot, dialog: RateDialog, text: str) -> None:
    dialog.rate.selectAll()
    qtbot.keyClicks(dialog.rate, text)


def test_add_edit_and_deactivate_a_vat_rate(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "tax_rates")
    assert isinstance(page, TaxRatesPage)
    assert page.note.text() == NOTE
    # The rates every install starts with; a name that already says its rate is not repeated.
    assert rows(page.list) == ["Standard 19%", "Reduced 9%", "Reduced 5%", "Exempt 0%"]
    before = stored(desk, api)

    # Ins opens the dialog; a name and a rate with decimals.
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Insert)
    dialog = the_dialog(RateDialog)
    qtbot.keyClicks(dialog.name, "Reduced")
    type_rate(qtbot, dialog, "7.5")
    qtbot.keyClick(dialog.rate, Qt.Key.Key_Return)
    settle(desk, panel)
    rates = stored(desk, api)
    assert Decimal(rates["Reduced"]["rate"]) == Decimal("7.5") and rates["Reduced"]["active"]
    assert len(rates) == len(before) + 1
    assert page.list.currentItem().text() == "Reduced 7.5%"
    assert "The VAT rate Reduced 7.5% is added." in page.notice_text.text()

    # F2: rename and re-rate it.
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_F2)
    edit = the_dialog(RateDialog)
    assert edit.name.text() == "Reduced" and edit.rate.value() == 7.5
    edit.name.selectAll()
    qtbot.keyClicks(edit.name, "Reduced food")
    type_rate(qtbot, edit, "9.125")
    qtbot.keyClick(edit.name, Qt.Key.Key_Return)
    settle(desk, panel)
    rates = stored(desk, api)
    assert "Reduced" not in rates
    assert Decimal(rates["Reduced food"]["rate"]) == Decimal("9.125")
    assert page.list.currentItem().text() == "Reduced food 9.125%"

    # Ctrl+D deactivates it: kept, marked inactive; Ctrl+D again brings it back.
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    assert stored(desk, api)["Reduced food"]["active"] is False
    assert "Reduced food 9.125%  (inactive)" in rows(page.list)
    assert page.active_button.text() == "Activate"
    click_row(qtbot, page.list, "Reduced food")
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert stored(desk, api)["Reduced food"]["active"] is True
    assert page.list.currentItem().text() == "Reduced food 9.125%"


def test_a_duplicate_name_shows_the_servers_error_next_to_the_name(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    desk.run(api.post("/api/tax-rates", {"name": "Zero", "rate": "0", "active": True}))
    _, panel, page = open_panel(desk, qtbot, "tax_rates", api=api)
    assert "Zero 0%" in rows(page.list)
    count = len(stored(desk, api))

    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(RateDialog)
    qtbot.keyClicks(dialog.name, "zero")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    settle(desk, panel)

    assert dialog.isVisible()  # still open, so the admin can fix the name
    assert is_marked(dialog.name)
    label = dialog.name.property("_fieldErrorLabel")
    assert label is not None and label.text() == "A VAT rate with this name exists already."
    assert len(stored(desk, api)) == count
    qtbot.keyClick(dialog.name, Qt.Key.Key_Escape)


def test_a_rate_added_elsewhere_appears_on_its_live_event(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "tax_rates")
    other = desk.run(api.post("/api/tax-rates", {"name": "Super reduced", "rate": "2.1", "active": True}))
    assert "Super reduced 2.1%" not in rows(page.list)
    panel.on_live_event(live_event("products", "tax_rate", other["id"], "created"))
    desk.wait_until(lambda: "Super reduced 2.1%" in rows(page.list), message="the list did not refresh")
