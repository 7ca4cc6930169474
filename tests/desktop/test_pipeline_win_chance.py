"""The Pipelines page sets each status's win probability (the forecast's weights): pick a status,
type a percent, press Enter; the server keeps it and the forecast report weighs by it."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.pipelines import PipelinesPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import focus, open_panel, settle
from tests.desktop.test_admin_pipelines import click_row


def test_set_a_status_win_chance(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "pipelines")
    assert isinstance(page, PipelinesPage)
    pipeline = next(p for p in desk.run(api.get("/api/pipelines")) if p["is_default"])
    status = next(s for s in pipeline["statuses"] if s["name"] == "Negotiation")
    close = (date.today() + timedelta(days=10)).isoformat()
    desk.run(
        api.post(
            "/api/leads",
            {
                "person_name": "Big deal",
                "status_id": status["id"],
                "value": "1000",
                "currency": "EUR",
                "expected_close_date": close,
            },
        )
    )
    click_row(qtbot, page.list, "Negotiation")
    desk.wait_until(lambda: page.probability.isEnabled(), message="the win chance was not offered")
    assert page.probability.value() == 70  # the migration's ladder: 7th of 9 open stages
    focus(desk, page.probability)
    page.probability.selectAll()
    qtbot.keyClicks(page.probability, "35")
    qtbot.keyClick(page.probability, Qt.Key.Key_Return)
    settle(desk, panel)
    stages = {
        s["name"]: s["win_probability"] for s in desk.run(api.get(f"/api/reports/stage-probabilities/{pipeline['id']}"))
    }
    assert stages["Negotiation"] == "35.00"
    forecast = desk.run(api.get("/api/reports/forecast", date_from=date.today().isoformat(), date_to=close))
    weighted = {f["label"]: f["value"] for f in forecast["figures"]}["Weighted forecast"]
    assert weighted == "350.00"  # 1000 x 35 %
