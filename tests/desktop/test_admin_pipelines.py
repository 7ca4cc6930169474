"""Admin panel, sales setup: shape the pipeline's statuses (add between two, rename, reorder with
Alt+Up, remove one whose leads move where the admin says) and the sales lists (a lost reason that
asks for words, a lead source moved and deactivated). The server ends up exactly so."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from crm_desktop import operations
from crm_desktop.operations.errors import is_marked
from crm_desktop.views.admin.common import NameDialog
from crm_desktop.views.admin.pipelines import KIND_ROLE, AddStatusDialog, PipelinesPage, RemoveStatusDialog
from crm_desktop.views.admin.sales_lists import ItemDialog, SalesListsPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import (
    focus,
    open_panel,
    settle,
    the_dialog,
)


def click_row(qtbot: QtBot, widget: QListWidget, text: str) -> None:
    """Click the row that starts with `text`, as a person would."""
    for row in range(widget.count()):
        item = widget.item(row)
        if item.text().startswith(text):
            widget.scrollToItem(item)
            qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=widget.visualItemRect(item).center())
            assert widget.currentItem() is item
            return
    raise AssertionError(f"no row {text!r}")


def rows(widget: QListWidget) -> list[str]:
    return [widget.item(i).text() for i in range(widget.count())]


def status_names(desk: Desk, api: Any) -> list[str]:
    sales = next(p for p in desk.run(api.get("/api/pipelines")) if p["is_default"])
    return [s["name"] for s in sales["statuses"]]


def test_shape_the_statuses_of_the_pipeline(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "pipelines")
    assert isinstance(page, PipelinesPage)
    assert page.picker.currentText() == "Sales  (default)"
    assert rows(page.list)[:3] == ["Open", "First Contact", "Connected"]
    assert page.list.item(9).data(KIND_ROLE) == "won"  # shown as a coloured tag
    announced: list[frozenset[str]] = []
    operations.change_bus().changed.connect(announced.append)

    # Add "Pilot" between First Contact and Connected: select First Contact, press Ins.
    click_row(qtbot, page.list, "First Contact")
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Insert)
    dialog = the_dialog(AddStatusDialog)
    qtbot.keyClicks(dialog.name, "Pilot")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    settle(desk, panel)
    assert status_names(desk, api)[:4] == ["Open", "First Contact", "Pilot", "Connected"]
    assert page.list.currentItem().text() == "Pilot"  # the new status is selected
    assert frozenset({"admin.pipeline"}) in announced  # the lead screens reload their columns

    # Rename it (F2).
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_F2)
    rename = the_dialog(NameDialog)
    rename.name.selectAll()
    qtbot.keyClicks(rename.name, "Pilot project")
    qtbot.keyClick(rename.name, Qt.Key.Key_Return)
    settle(desk, panel)
    assert status_names(desk, api)[:4] == ["Open", "First Contact", "Pilot project", "Connected"]
    assert "The status is now called Pilot project." in page.notice_text.text()

    # Alt+Up moves it one place earlier.
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    settle(desk, panel)
    assert status_names(desk, api)[:4] == ["Open", "Pilot project", "First Contact", "Connected"]
    assert rows(page.list)[:4] == ["Open", "Pilot project", "First Contact", "Connected"]
    assert page.list.currentItem().text() == "Pilot project"

    # The kind combo refuses to leave the pipeline without a won status (the server's reason shows).
    click_row(qtbot, page.list, "Won")
    assert page.kind.currentData() == "won"
    focus(desk, page.kind)
    qtbot.keyClick(page.kind, Qt.Key.Key_Up)  # Won -> Open
    settle(desk, panel)
    assert is_marked(page.kind) and page.kind.toolTip() == "A pipeline needs at least one won status."
    assert page.kind.currentData() == "won"  # back to what the server has
    assert "Won" in status_names(desk, api)
    assert page.list.currentItem().data(KIND_ROLE) == "won"

    # Junk becomes a lost status: allowed, and the tag follows.
    click_row(qtbot, page.list, "Junk")
    focus(desk, page.kind)
    qtbot.keyClick(page.kind, Qt.Key.Key_Up)  # Junk -> Lost
    settle(desk, panel)
    kinds = {s["name"]: s["kind"] for p in desk.run(api.get("/api/pipelines")) for s in p["statuses"]}
    assert kinds["Junk"] == "lost"
    assert page.list.currentItem().data(KIND_ROLE) == "lost"


def test_removing_a_status_moves_its_leads_where_the_admin_says(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    sales = next(p for p in desk.run(api.get("/api/pipelines")) if p["is_default"])
    by_name = {s["name"]: s["id"] for s in sales["statuses"]}
    leads = [
        desk.run(api.post("/api/leads", {"person_name": name, "status_id": by_name["Connected"]}))["id"]
        for name in ("Lia Lane", "Max Moor")
    ]
    _, panel, page = open_panel(desk, qtbot, "pipelines", api=api)

    click_row(qtbot, page.list, "Connected")
    focus(desk, page.list)
    qtbot.keyClick(page.list, Qt.Key.Key_Delete)
    dialog = the_dialog(RemoveStatusDialog)
    desk.wait_until(lambda: dialog.count.text() == "2 current leads are in this status.")
    offered = [dialog.target.itemText(i) for i in range(dialog.target.count())]
    assert offered[0] == "Open  (Open)" and "Lost  (Lost)" not in offered  # lost leads each need a reason
    assert dialog.target.currentText() == "First Contact  (Open)"  # the status above, by default
    dialog.target.setCurrentIndex(dialog.target.findData(by_name["Demo Scheduled"]))
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)

    assert "Connected" not in status_names(desk, api)
    for lead_id in leads:
        assert desk.run(api.get(f"/api/leads/{lead_id}"))["status_id"] == by_name["Demo Scheduled"]
    assert "Connected" not in rows(page.list)
    assert "its leads are now in Demo Scheduled" in page.notice_text.text()


def test_sales_lists_lost_reason_asking_for_text_and_sources(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "sales_lists")
    assert isinstance(page, SalesListsPage)
    reasons, sources = page.reasons, page.sources
    assert rows(reasons.list)[-1] == "Other  (asks for text)"

    qtbot.mouseClick(reasons.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(ItemDialog)
    qtbot.keyClicks(dialog.name, "Pilot failed")
    qtbot.mouseClick(dialog.requires_text, Qt.MouseButton.LeftButton)
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    settle(desk, panel)
    stored = {r["name"]: r for r in desk.run(api.get("/api/lost-reasons"))}
    assert stored["Pilot failed"]["requires_text"] is True and stored["Pilot failed"]["active"]
    assert reasons.list.currentItem().text() == "Pilot failed  (asks for text)"
    assert reasons.text_flag.isChecked()

    # Facebook goes one place down (Alt+Down), then is deactivated (Ctrl+D): no longer offered.
    click_row(qtbot, sources.list, "Facebook")
    focus(desk, sources.list)
    qtbot.keyClick(sources.list, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    settle(desk, panel)
    everything = [s["name"] for s in desk.run(api.get("/api/lead-sources", include_inactive=True))]
    assert everything[:2] == ["Website form", "Facebook"]
    qtbot.keyClick(sources.list, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    settle(desk, panel)
    offered = [s["name"] for s in desk.run(api.get("/api/lead-sources"))]
    assert "Facebook" not in offered and offered[0] == "Website form"
    assert rows(sources.list)[1] == "Facebook  (inactive)"
    assert sources.active_button.text() == "Activate"
