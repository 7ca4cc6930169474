"""Admin > Automation and Admin > Webhooks, driven like a person: an admin builds the seed's demo
rule by clicking ("when a lead's status becomes Demo Scheduled, a Prepare for Demo follow-up for
its owner a day before the demo") and sees it run, with its follow-up, when a lead moves; a webhook
is added (its secret shown once), a change is delivered, its attempts listed, and it is resent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from crm_desktop.views.admin.automation import ActionDialog, AutomationPage, RuleDialog
from crm_desktop.views.admin.webhooks import SubscriptionDialog, WebhooksPage
from tests.desktop.conftest import Desk
from tests.desktop.test_admin_panel import live_event, open_panel, settle, the_dialog
from tests.support import LiveServer


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: a rule's actions and webhook deliveries are jobs."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def _pick(combo: Any, key: str) -> None:
    index = combo.findData(key)
    assert index >= 0, key
    combo.setCurrentIndex(index)


def _ok(qtbot: QtBot, buttons: QDialogButtonBox) -> None:
    qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def _until(desk: Desk, panel: Any, reload: Callable[[], None], check: Callable[[], bool], what: str) -> None:
    """Press Refresh until the worker's result shows (the deadline only keeps a broken worker from hanging)."""
    for _ in range(150):
        reload()
        settle(desk, panel)
        if check():
            return
        desk.wait(0.2)
    raise AssertionError(what)


def test_an_admin_builds_the_demo_rule_and_sees_it_work(desk: Desk, qtbot: QtBot) -> None:
    api, panel, page = open_panel(desk, qtbot, "automation")
    assert isinstance(page, AutomationPage)
    assert any("Prepare for the demo" in page.list.item(i).text() for i in range(page.list.count()))  # the seed, off
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(RuleDialog)
    qtbot.keyClicks(dialog.name, "Demo preparation")
    _pick(dialog.entity, "lead")
    _pick(dialog.trigger, "status_changed")
    _pick(dialog.to_value, "Demo Scheduled")
    qtbot.mouseClick(dialog.add_action, Qt.MouseButton.LeftButton)
    action = the_dialog(ActionDialog)
    _pick(action.kind, "create_follow_up")
    qtbot.keyClicks(action.title, "Prepare for Demo")
    action.amount.selectAll()
    qtbot.keyClicks(action.amount, "1")
    _pick(action.unit, "days")
    _pick(action.direction, "before")
    _pick(action.relative, "next_meeting")
    _ok(qtbot, action.buttons)
    assert dialog.action_list.item(0).text() == 'Create a follow-up "Prepare for Demo" 1 day before the next meeting'
    _ok(qtbot, dialog.buttons)
    settle(desk, panel)
    assert "Demo preparation" in page.list.currentItem().text()
    rule = next(r for r in desk.run(api.get("/api/automation/rules")) if r["name"] == "Demo preparation")
    assert rule["trigger"]["to_value"] == "Demo Scheduled" and rule["active"]
    assert rule["actions"][0]["offset_minutes"] == -1440

    # A salesperson's lead with a demo meeting in three days moves to Demo Scheduled.
    sam = desk.create_user("sam@example.com", full_name="Sam Sales")
    lead = desk.run(api.post("/api/leads", {"person_name": "Dora Demo", "owner_id": sam}))
    demo_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    desk.run(api.post("/api/follow-ups", {"lead_id": lead["id"], "kind": "meeting", "due_at": demo_at.isoformat()}))
    pipelines = desk.run(api.get("/api/pipelines"))
    status = next(s for p in pipelines for s in p["statuses"] if s["name"] == "Demo Scheduled")
    desk.run(api.post(f"/api/leads/{lead['id']}/move", {"status_id": status["id"], "version": lead["version"]}))

    _until(
        desk,
        panel,
        page.runs_model.reload,
        lambda: [r.outcome for r in page.runs_model.rows()] == ["done"],
        "the rule's run did not show as done",
    )
    assert "Follow-up" in page.runs_model.index(0, 3).data()
    _pick(page.outcome, "not_matched")
    settle(desk, panel)
    assert page.runs_model.rows() == []
    page.outcome.setCurrentIndex(0)
    settle(desk, panel)
    follow_ups = desk.run(api.get("/api/follow-ups", lead_id=lead["id"], status="open"))["items"]
    prepare = [f for f in follow_ups if f["notes"] == "Prepare for Demo"]
    assert len(prepare) == 1 and prepare[0]["owner_id"] == sam
    assert datetime.fromisoformat(prepare[0]["due_at"]) == demo_at - timedelta(days=1)

    # Test on a record: says what it would do, does nothing more.
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    from PySide6.QtWidgets import QInputDialog

    ask = the_dialog(QInputDialog)
    ask.setIntValue(lead["id"])
    ask.done(QInputDialog.DialogCode.Accepted)
    settle(desk, panel)
    assert "would run" in page.notice_text.text()
    qtbot.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)
    assert "(off)" in page.list.currentItem().text()

    # Another admin adds a rule: its live event refreshes the list.
    other = {
        "name": "Welcome",
        "entity": "lead",
        "trigger": {"kind": "created"},
        "actions": [{"kind": "add_tag", "tag": "new"}],
    }
    made = desk.run(api.post("/api/automation/rules", other))
    panel.on_live_event(live_event("automation", "automation_rule", made["id"], "created"))
    desk.wait_until(
        lambda: any("Welcome" in page.list.item(i).text() for i in range(page.list.count())),
        message="the list did not refresh",
    )


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    got: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers.get("content-length", "0"))))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}/hook", got
    http.shutdown()


def test_a_webhook_is_added_delivered_logged_and_resent(
    desk: Desk, qtbot: QtBot, receiver: tuple[str, list[bytes]]
) -> None:
    url, got = receiver
    api, panel, page = open_panel(desk, qtbot, "webhooks")
    assert isinstance(page, WebhooksPage)
    desk.run(api.patch("/api/settings", {"values": {"webhooks.allowed_private": "127.0.0.1"}}))
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = the_dialog(SubscriptionDialog)
    qtbot.keyClicks(dialog.name, "Shop")
    qtbot.keyClicks(dialog.url, url)
    dialog.check("lead.created")
    _ok(qtbot, dialog.buttons)
    settle(desk, panel)
    assert page.secret.isVisible() and page.secret.text().startswith("whsec_")
    assert desk.run(api.get("/api/automation/webhooks"))[0]["secret"] is None  # shown once
    desk.run(api.post("/api/leads", {"person_name": "Hook Hanna"}))

    _until(
        desk,
        panel,
        page.model.reload,
        lambda: [d.status for d in page.model.rows()] == ["delivered"],
        "the delivery did not show as delivered",
    )
    assert len(got) == 1 and b"Hook Hanna" in got[0]
    _pick(page.status, "dead")  # the dead-letter list: nothing gave up
    settle(desk, panel)
    assert page.model.rows() == []
    page.status.setCurrentIndex(0)
    settle(desk, panel)
    page.table.view.selectRow(0)
    desk.wait_until(lambda: page.log.count() == 1, message="the attempts did not show")
    assert "HTTP 200" in page.log.item(0).text()
    qtbot.mouseClick(page.resend_button, Qt.MouseButton.LeftButton)
    settle(desk, panel)

    def two() -> bool:
        page.table.view.clearSelection()
        page.table.view.selectRow(0)
        settle(desk, panel)
        return page.log.count() == 2

    _until(desk, panel, page.model.reload, two, "the resend did not show")
    assert len(got) == 2
