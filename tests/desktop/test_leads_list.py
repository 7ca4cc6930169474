"""The lead list: server paging as one scrolls, header clicks that sort on the server, bulk changes of
the selected rows. (The export of the current filters: tests/desktop/test_exports_page.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.leads.list import BulkDialog, LeadList
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus
from tests.server.test_lead_list_at_scale import LEADS, fill


def make_leads(desk: Desk, api: ApiClient, people: list[dict[str, Any]], at_once: int = 20) -> list[dict[str, Any]]:
    async def make() -> list[dict[str, Any]]:
        made = []
        for chunk in range(0, len(people), at_once):  # a few at a time: the server has a small pool
            made += await asyncio.gather(*(api.post("/api/leads", p) for p in people[chunk : chunk + at_once]))
        return made

    return desk.run(make(), timeout=120)


def open_list(desk: Desk, qtbot: QtBot, api: ApiClient, page_size: int = 100) -> LeadList:
    session = Session(api, desk.run(auth.me(api)))
    leads = LeadList(session, page_size=page_size)
    qtbot.addWidget(leads)
    leads.resize(1200, 600)
    leads.show()
    desk.wait_until(lambda: leads.model.total is not None and not leads.model.loading, message="list not loaded")
    return leads


def names(leads: LeadList) -> list[str]:
    return [r.person_name for r in leads.model.rows()]


def test_scrolling_fetches_more_pages(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    make_leads(desk, api, [{"person_name": f"Person {i:03}"} for i in range(130)])
    leads = open_list(desk, qtbot, api, page_size=50)
    assert leads.model.total == 130 and leads.model.rowCount() == 50  # one page, not everything
    assert "showing 50" in leads.table.status.text()
    view = leads.table.view
    for expected in (100, 130):
        view.scrollToBottom()
        desk.wait_until(lambda n=expected: leads.model.rowCount() == n, message=f"no page up to {expected}")
    assert len({r.id for r in leads.model.rows()}) == 130
    assert leads.table.status.text() == "130 leads"


def test_scrolling_goes_past_the_counted_total_page_after_page(desk: Desk, qtbot: QtBot) -> None:
    """Past the count cap the total is "more than"; scrolling keeps going, each page after the last
    one's key (a cursor), until the end says the exact number."""
    api = desk.signed_in_api()
    fill(desk.server.database_url)  # LEADS, more than the list counts
    leads = open_list(desk, qtbot, api, page_size=200)  # counted up to 200 + 1,000
    assert not leads.model.total_exact and leads.table.status.text().startswith("more than 1,")
    view = leads.table.view
    while leads.model.rowCount() < LEADS:
        before = leads.model.rowCount()
        view.scrollToBottom()
        desk.wait_until(lambda n=before: leads.model.rowCount() > n, message=f"stuck at {before} rows")
    assert names(leads) == [f"Person {n}" for n in range(1, LEADS + 1)]  # newest first, none twice
    desk.wait_until(lambda: not leads.model.loading)
    assert leads.model.total_exact and leads.table.status.text() == f"{LEADS:,} leads"


def click_header(qtbot: QtBot, leads: LeadList, title: str) -> None:
    header = leads.table.view.horizontalHeader()
    section = [c.title for c in leads.model.columns].index(title)
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_header_click_sorts_on_the_server(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    make_leads(
        desk,
        api,
        [{"person_name": n, "value": v} for n, v in (("Cara", "10"), ("Abe", "300"), ("Bob", "20"))],
        at_once=1,
    )
    leads = open_list(desk, qtbot, api, page_size=2)  # pages of two: the order must come from the server
    desk.wait_until(lambda: leads.model.rowCount() == 3 and not leads.model.loading)
    assert names(leads) == ["Bob", "Abe", "Cara"]  # newest first
    click_header(qtbot, leads, "Name")
    desk.wait_until(lambda: names(leads) == ["Abe", "Bob", "Cara"], message=f"not by name: {names(leads)}")
    assert leads.sort == "person_name"
    click_header(qtbot, leads, "Name")
    desk.wait_until(lambda: names(leads) == ["Cara", "Bob", "Abe"], message=f"not descending: {names(leads)}")
    click_header(qtbot, leads, "Value")
    desk.wait_until(lambda: leads.sort == "value" and names(leads) == ["Cara", "Bob", "Abe"])
    click_header(qtbot, leads, "Status")  # the server cannot sort by it: nothing changes
    desk.wait(0.2)
    assert leads.sort == "value"
    header = leads.table.view.horizontalHeader()
    assert header.sortIndicatorSection() == [c.title for c in leads.model.columns].index("Value")


def the_bulk_dialog() -> BulkDialog:
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, BulkDialog) and w.isVisible()]
    assert len(dialogs) == 1, dialogs
    return dialogs[0]


def test_select_all_and_reassign_then_tag(desk: Desk, qtbot: QtBot) -> None:
    api = desk.signed_in_api()
    sam = desk.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller")
    made = make_leads(desk, api, [{"person_name": f"Lead {i}"} for i in range(3)])
    leads = open_list(desk, qtbot, api)
    assert not leads.reassign_button.isEnabled()
    focus(desk, leads.table.view)
    qtbot.keyClick(leads.table.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert leads.selected_label.text() == "3 selected" and leads.reassign_button.isEnabled()

    qtbot.mouseClick(leads.reassign_button, Qt.MouseButton.LeftButton)
    dialog = the_bulk_dialog()
    assert dialog.picker is not None and not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.picker, "sam")
    desk.wait_until(lambda: dialog.picker is not None and dialog.picker.matches.rowCount() == 1)
    dialog.picker.choose(0)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "3 leads reassigned" in leads.notice_text.text(), message=leads.notice_text.text())
    stored = [desk.run(api.get(f"/api/leads/{lead['id']}")) for lead in made]
    assert {lead["owner_id"] for lead in stored} == {sam}
    desk.wait_until(
        lambda: (
            leads.model.rowCount() == 3
            and {leads.model.data(leads.model.index(i, 3)) for i in range(3)} == {"Sam Seller"}
        )
    )

    # Two of them get a tag, then lose it again.
    leads.table.view.selectRow(0)
    qtbot.mouseClick(
        leads.table.view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        leads.table.view.visualRect(leads.model.index(1, 0)).center(),
    )
    assert len(leads.selected_ids()) == 2
    tagged = set(leads.selected_ids())
    qtbot.mouseClick(leads.tag_add_button, Qt.MouseButton.LeftButton)
    dialog = the_bulk_dialog()
    assert dialog.tag is not None
    qtbot.keyClicks(dialog.tag.lineEdit(), "VIP")
    qtbot.keyClick(dialog.tag.lineEdit(), Qt.Key.Key_Return)
    desk.wait_until(lambda: "2 leads tagged" in leads.notice_text.text(), message=leads.notice_text.text())
    tags = {lead["id"]: desk.run(api.get(f"/api/leads/{lead['id']}"))["tags"] for lead in made}
    assert {i for i, t in tags.items() if t == ["vip"]} == tagged
    desk.wait_until(lambda: sum(r.tags == ["vip"] for r in leads.model.rows()) == 2)

    desk.wait_until(lambda: leads.model.rowCount() == 3 and not leads.model.loading)
    for i in range(3):
        if leads.model.row(i).id in tagged:
            leads.table.view.selectRow(i)
            break
    qtbot.mouseClick(leads.tag_remove_button, Qt.MouseButton.LeftButton)
    dialog = the_bulk_dialog()
    assert dialog.tag is not None and dialog.tag.findText("vip") >= 0  # offers the tags the rows have
    dialog.tag.setCurrentIndex(dialog.tag.findText("vip"))
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: "untagged" in leads.notice_text.text())
    tags = {lead["id"]: desk.run(api.get(f"/api/leads/{lead['id']}"))["tags"] for lead in made}
    assert sum(t == ["vip"] for t in tags.values()) == 1
