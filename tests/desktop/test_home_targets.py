"""Targets and the Home leftovers of issue #20 in the main window against the real server: a manager
sets a salesperson's target in Reports (Pipeline and forecast, Targets…) and sees Home's "Won vs
target" widget move; "Open and unassigned" opens exactly those leads, and Assign hands them to a
colleague through the bulk reassign."""

from __future__ import annotations

from typing import Any

import httpx
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from crm_desktop import operations
from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.activities import ActivitiesPage
from crm_desktop.views.home import AssignDialog, HomePage
from crm_desktop.views.leads import LeadsPage
from crm_desktop.views.main_window import MainWindow
from crm_desktop.views.reports.page import ReportsPage
from crm_desktop.views.reports.standard import StandardReportPage
from crm_desktop.views.reports.targets import TargetsDialog
from tests.desktop.conftest import Desk
from tests.support import PASSWORD


def _figure(page: HomePage, widget: str, key: str) -> str:
    return page.cards[widget].figures[key].value.text()


def test_manager_sets_a_target_and_assigns_the_unassigned_leads(desk: Desk, qtbot: QtBot) -> None:
    desk.signed_in_api()  # the admin who makes the data
    sam = desk.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller", team="North")
    desk.create_user("max@example.com", role="Manager", full_name="Max Manager", team="North")

    async def data(http: httpx.AsyncClient) -> list[int]:
        pipelines = (await http.get("/api/pipelines")).json()
        won = next(s["id"] for s in next(p for p in pipelines if p["is_default"])["statuses"] if s["kind"] == "won")
        lead = (await http.post("/api/leads", json={"person_name": "Big", "value": "1000", "owner_id": sam})).json()
        moved = await http.post(f"/api/leads/{lead['id']}/move", json={"status_id": won, "version": lead["version"]})
        assert moved.status_code == 200, moved.text
        free = []
        for name in ("Free one", "Free two", "Kept"):
            made = await http.post("/api/leads", json={"person_name": name, "owner_id": sam})
            free.append(made.json()["id"])
        return free

    free = desk.admin_http(data)

    async def unassign() -> None:  # two open leads of team North without an owner
        async with desk.server.session() as s:
            await s.execute(text("UPDATE leads SET owner_id = NULL WHERE id = ANY(:ids)"), {"ids": free[:2]})

    desk.on_server(unassign())
    api = desk.api()
    desk.run(auth.login(api, "max@example.com", PASSWORD))
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.open_module("home")
    home = window.pages["home"].content
    assert isinstance(home, HomePage)
    desk.wait_until(lambda: "targets" in home.cards, message="Home did not load")
    assert _figure(home, "targets", "won") == "1,000.00 EUR"
    assert _figure(home, "targets", "target") == "not set"

    # Reports, Pipeline and forecast, Targets…: type Sam's target into its cell
    window.open_module("reports")
    reports = window.pages["reports"].content
    assert isinstance(reports, ReportsPage)
    forecast = reports.open_report("forecast")
    assert isinstance(forecast, StandardReportPage) and forecast.targets_button.isVisibleTo(forecast)
    qtbot.mouseClick(forecast.targets_button, Qt.MouseButton.LeftButton)
    dialog = forecast.findChild(TargetsDialog)
    assert dialog is not None
    desk.wait_until(lambda: dialog.loads > 0, message="the targets did not load")
    dialog.set_target("Sam Seller", "4,000")
    desk.wait_until(lambda: operations.pending() == 0 and dialog.loads > 1, message="the target was not saved")
    cell = dialog.table.item(dialog.row_of("Sam Seller"), 3)
    assert cell is not None and cell.text() == "4,000.00 EUR"
    dialog.set_target("Sam Seller", "-5")  # refused at once, the cell shows the saved target again
    cell = dialog.table.item(dialog.row_of("Sam Seller"), 3)
    assert "amount" in dialog.notice.text() and cell is not None and cell.text() == "4,000.00 EUR"
    dialog.close()

    window.open_module("home")
    desk.wait_until(lambda: _figure(home, "targets", "target") == "4,000.00 EUR", message="Home did not move")
    assert _figure(home, "targets", "share") == "25%"  # 1,000 of 4,000
    reports.open_report("sales")  # elsewhere in Reports: the figure brings the forecast back
    qtbot.mouseClick(home.cards["targets"].figures["won"], Qt.MouseButton.LeftButton)
    assert window.current_module == "reports" and reports.stack.currentWidget() is forecast
    assert forecast.key == "forecast"
    window.open_module("home")

    # "Open and unassigned" opens exactly those two leads
    assert _figure(home, "new_leads", "unassigned") == "2"
    qtbot.mouseClick(home.cards["new_leads"].figures["unassigned"], Qt.MouseButton.LeftButton)
    assert window.current_module == "leads"
    leads = window.pages["leads"].content
    assert isinstance(leads, LeadsPage)
    assert leads.filters.values() == {"unassigned": True} and leads.filters.unassigned.isChecked()
    leads.show_list()
    listed: Any = leads.list
    desk.wait_until(lambda: listed.model.total == 2 and not listed.model.loading, message="not the two leads")
    assert sorted(r.person_name for r in listed.model.rows()) == ["Free one", "Free two"]

    # Assign…: both to Sam
    window.open_module("home")
    assign = home.cards["new_leads"].findChild(type(forecast.targets_button), "homeAssign")
    assert assign is not None
    qtbot.mouseClick(assign, Qt.MouseButton.LeftButton)
    picker = home.findChild(AssignDialog)
    assert picker is not None
    desk.wait_until(lambda: picker.ready, message="the assign dialog did not load")
    assert "2 open leads" in picker.said.text()
    picker.choose(sam)
    qtbot.mouseClick(picker.assign, Qt.MouseButton.LeftButton)
    desk.wait_until(lambda: operations.pending() == 0, message="the assignment did not finish")
    owners = [desk.run(api.get(f"/api/leads/{i}"))["owner_id"] for i in free[:2]]
    assert owners == [sam, sam]
    desk.wait_until(lambda: _figure(home, "new_leads", "unassigned") == "0", message="Home still counts them")

    # The follow-up figures open My day with only their group
    qtbot.mouseClick(home.cards["follow_ups"].figures["overdue"], Qt.MouseButton.LeftButton)
    activities = window.pages["activities"].content
    assert isinstance(activities, ActivitiesPage)
    assert window.current_module == "activities" and activities.my_day.due == "overdue"
    assert activities.my_day.show_all.isVisibleTo(activities.my_day)
    qtbot.mouseClick(activities.my_day.show_all, Qt.MouseButton.LeftButton)
    assert activities.my_day.due is None and not activities.my_day.show_all.isVisibleTo(activities.my_day)
    window.close()
