"""Follow-ups on the desktop against the real server: schedule one on a lead, see it in My day,
complete it with the next one, reschedule with a reason, the week calendar, reminders in the bell
and the notification settings that mute them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from time import monotonic
from typing import Any

import shiboken6
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from crm_desktop import format, operations, tasks
from crm_desktop.api.client import ApiClient
from crm_desktop.views.account.notification_prefs import NotificationPrefsDialog
from crm_desktop.views.activities import ActivitiesPage
from crm_desktop.views.activities.calendar import WeekView
from crm_desktop.views.activities.my_day import MyDayView
from crm_desktop.views.activities.schedule import CompleteDialog, RescheduleDialog, ScheduleFollowUpDialog, utc_iso
from crm_desktop.views.main_window import MainWindow
from crm_server.contract.activities import FollowUpOut
from tests.desktop.conftest import Desk
from tests.desktop.test_main_window import open_main

CTRL = Qt.KeyboardModifier.ControlModifier


def make_lead(desk: Desk, api: ApiClient, company: str = "Acme") -> dict[str, Any]:
    lead: dict[str, Any] = desk.run(api.post("/api/leads", {"person_name": "Ana Pop", "company": company}))
    settle(desk, lambda: True)
    return lead


def make_follow_up(
    desk: Desk, api: ApiClient, lead_id: int, due: datetime, kind: str = "call", notes: str = ""
) -> dict[str, Any]:
    body = {"lead_id": lead_id, "kind": kind, "due_at": utc_iso(due), "notes": notes}
    made: dict[str, Any] = desk.run(api.post("/api/follow-ups", body))
    settle(desk, lambda: True)
    return made


def open_activities(window: MainWindow) -> ActivitiesPage:
    window.open_module("activities")
    page = window.findChild(ActivitiesPage)
    assert page is not None, "the activities page did not open"
    return page


def visible(desk: Desk, kind: type[QWidget]) -> Any:
    """The open dialog of ``kind``, once it is the active window (keys go to it, as for a person)."""
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    assert found, f"no {kind.__name__} open"
    settle(desk, found[-1].isActiveWindow, message=f"{kind.__name__} did not become active")
    return found[-1]


def back_to(desk: Desk, window: QWidget) -> None:
    """Click back into the main window (offscreen, closing a dialog activates no other window)."""
    window.activateWindow()
    settle(desk, window.isActiveWindow, message="the main window did not become active")


def quiet() -> bool:
    """No load or change in flight (and none about to start)."""
    views = [w for w in QApplication.allWidgets() if isinstance(w, (MyDayView, WeekView))]
    return tasks.running() == 0 and operations.pending() == 0 and not any(v.is_busy() for v in views)


def settle(desk: Desk, predicate: Callable[[], object], message: str = "") -> None:
    """Wait for ``predicate`` and for the app to be quiet, so the next step starts from a settled
    screen (no reload of a live event still on its way)."""
    desk.wait_until(lambda: predicate() and quiet(), message=message)


def pause(desk: Desk, seconds: float) -> None:
    until = monotonic() + seconds
    settle(desk, lambda: monotonic() >= until)


def closed(widget: QWidget) -> bool:
    return not shiboken6.isValid(widget) or not widget.isVisible()


def send_reminders(desk: Desk, now: datetime | None = None) -> dict[str, int]:
    """The reminder job's work, on the server as the worker would run it."""
    from crm_server.activities import reminders
    from crm_server.db import utcnow

    async def run() -> dict[str, int]:
        async with desk.server.session() as s:
            return await reminders.send_due(s, now or utcnow())

    return desk.on_server(run())


def test_schedule_on_a_lead_then_complete_it_with_the_next_one(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    lead = make_lead(desk, api)
    page = open_activities(window)
    assert page.tabs.currentWidget() is page.my_day
    my_day = page.my_day
    settle(desk, lambda: my_day.loaded)
    assert my_day.stack.currentWidget() is my_day.empty and my_day.empty.title.text() == "Nothing due today"

    dialog = ScheduleFollowUpDialog(api, lead_id=lead["id"], parent=window)
    qtbot.addWidget(dialog)
    dialog.open()
    settle(desk, dialog.isActiveWindow)
    tomorrow = datetime.now().astimezone().date() + timedelta(days=1)
    assert dialog.when.date_edit.date().toPython() == tomorrow
    assert dialog.when.time_edit.time().toPython() == time(10, 0)
    qtbot.mouseClick(dialog.kind.buttons["meeting"], Qt.MouseButton.LeftButton)
    dialog.when.date_edit.setFocus()
    qtbot.keyClick(dialog.when.date_edit, Qt.Key.Key_Down)  # one day earlier: today
    today = datetime.now().astimezone().date()
    if dialog.when.date_edit.date().toPython() != today:  # the 1st of a month does not step back
        dialog.when.date_edit.setDate(today)
    qtbot.mouseClick(dialog.notes.viewport(), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.notes, "Bring the price list")
    scheduled: list[FollowUpOut] = []
    dialog.scheduled.connect(scheduled.append)
    qtbot.keyClick(dialog.notes, Qt.Key.Key_Return, CTRL)
    settle(desk, lambda: scheduled, message="the follow-up was not scheduled")
    settle(desk, lambda: closed(dialog))
    made = scheduled[0]
    assert (made.kind, made.lead_id, made.notes) == ("meeting", lead["id"], "Bring the price list")
    assert made.due_at.astimezone().date() == today

    settle(desk, lambda: my_day.selected_id() == made.id, message="the new follow-up is not in My day")
    row = my_day.tree.currentItem()
    assert row.text(2) == "Meeting" and row.text(3) == "Ana Pop (Acme)" and row.text(4) == "Bring the price list"
    assert my_day.stack.currentWidget() is my_day.tree

    back_to(desk, window)
    my_day.tree.setFocus()
    qtbot.keyClick(my_day.tree, Qt.Key.Key_Return, CTRL)
    complete = visible(desk, CompleteDialog)
    qtbot.keyClicks(complete.outcome, "Interested, wants a demo")
    qtbot.mouseClick(complete.plan_next, Qt.MouseButton.LeftButton, pos=QPoint(8, complete.plan_next.height() // 2))
    assert complete.next_box.isVisible()
    qtbot.mouseClick(complete.next_kind.buttons["email"], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(complete.next_notes, "Send the demo link")
    qtbot.keyClick(complete.outcome, Qt.Key.Key_Return, CTRL)
    settle(desk, lambda: closed(complete), message="the complete dialog stayed open")

    done = desk.run(api.get(f"/api/follow-ups/{made.id}"))
    assert (done["status"], done["outcome"]) == ("done", "Interested, wants a demo")
    still_open = desk.run(api.get("/api/follow-ups", lead_id=lead["id"], status="open"))["items"]
    assert [(f["kind"], f["notes"]) for f in still_open] == [("email", "Send the demo link")]
    assert (
        datetime.fromisoformat(still_open[0]["due_at"]).astimezone()
        == datetime.combine(tomorrow, time(10)).astimezone()
    )
    settle(
        desk, lambda: my_day.stack.currentWidget() is my_day.empty, message="the completed follow-up stayed in My day"
    )


def test_reschedule_needs_a_reason_next_to_its_field(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    lead = make_lead(desk, api)
    late = make_follow_up(desk, api, lead["id"], datetime.now().astimezone() - timedelta(hours=2), notes="Call back")
    my_day = open_activities(window).my_day
    settle(desk, lambda: my_day.selected_id() == late["id"])
    group = my_day.tree.topLevelItem(0)
    assert group.text(0).startswith("Overdue") and my_day.summary.text() == "1 overdue"

    my_day.tree.setFocus()
    qtbot.keyClick(my_day.tree, Qt.Key.Key_R, CTRL)
    dialog = visible(desk, RescheduleDialog)
    tomorrow = datetime.now().astimezone().date() + timedelta(days=1)
    assert dialog.when.date_edit.date().toPython() == tomorrow  # an overdue one moves to tomorrow by default
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.reason.property("invalid")
    error = dialog.reason.parentWidget().findChild(QLabel, "fieldErrorLabel")
    assert error is not None and error.isVisible() and "reason" in error.text()
    column = dialog.reason.parentWidget().layout()
    assert column.indexOf(error) == column.indexOf(dialog.reason) + 1  # right under the reason field
    assert desk.run(api.get(f"/api/follow-ups/{late['id']}"))["version"] == late["version"]

    qtbot.keyClicks(dialog.reason, "Client on holiday")
    assert not dialog.reason.property("invalid")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    settle(desk, lambda: closed(dialog), message="the reschedule dialog stayed open")
    moved = desk.run(api.get(f"/api/follow-ups/{late['id']}"))
    assert datetime.fromisoformat(moved["due_at"]).astimezone().date() == tomorrow
    settle(desk, lambda: my_day.stack.currentWidget() is my_day.empty)


def test_week_calendar_places_a_follow_up_on_its_day(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    lead = make_lead(desk, api, company="Globex")
    today = datetime.now().astimezone().date()
    due = datetime.combine(today, time(15, 30)).astimezone()
    made = make_follow_up(desk, api, lead["id"], due, kind="whatsapp")
    page = open_activities(window)
    qtbot.mouseClick(page.tabs.tabBar(), Qt.MouseButton.LeftButton, pos=page.tabs.tabBar().tabRect(1).center())
    week = page.week
    assert page.tabs.currentWidget() is week
    column = week.columns[today.weekday()]
    settle(
        desk,
        lambda: column.texts() == ["15:30 Ana Pop (Globex)"],
        message=f"the week shows {[c.texts() for c in week.columns]}",
    )
    assert all(not c.texts() for i, c in enumerate(week.columns) if i != today.weekday())
    assert column.title.text() == format.weekday(today)
    assert column.list.item(0).toolTip().startswith(f"WhatsApp at 15:30, {format.weekday(today)}: Ana Pop (Globex)")

    back_to(desk, window)
    qtbot.keyClick(week, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    settle(desk, lambda: week.loaded and not any(c.texts() for c in week.columns))
    assert week.monday == today - timedelta(days=today.weekday()) + timedelta(days=7)
    qtbot.keyClick(week, Qt.Key.Key_T, CTRL)
    settle(desk, lambda: bool(column.texts()))

    item = column.list.item(0)
    qtbot.mouseClick(column.list.viewport(), Qt.MouseButton.LeftButton, pos=column.list.visualItemRect(item).center())
    menu = week.menu
    assert menu is not None and menu.isVisible()
    complete, reschedule, _record = menu.actions()
    assert complete.isEnabled() and reschedule.isEnabled()
    complete.trigger()
    dialog = visible(desk, CompleteDialog)
    assert dialog.follow_up.id == made["id"]
    qtbot.keyClicks(dialog.outcome, "Sent the offer")
    qtbot.keyClick(dialog.outcome, Qt.Key.Key_Return, CTRL)
    settle(desk, lambda: closed(dialog))
    settle(
        desk,
        lambda: column.list.count() == 1 and column.list.item(0).font().strikeOut(),
        message="a done follow-up should stay on its day, struck through",
    )


def test_a_reminder_reaches_the_bell_live(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    lead = make_lead(desk, api, company="Initech")
    make_follow_up(desk, api, lead["id"], datetime.now().astimezone() + timedelta(minutes=30), notes="Quote")
    pause(desk, 0.3)
    assert window.bell.count == 0
    assert send_reminders(desk)["follow_up_soon"] == 1
    settle(desk, lambda: window.bell.count == 1, message="the reminder did not reach the bell")
    qtbot.mouseClick(window.bell, Qt.MouseButton.LeftButton)
    popup = window.popup
    assert popup is not None
    settle(desk, lambda: popup.list.count() == 1)
    text = popup.list.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert "Ana Pop (Initech)" in text and "call" in text.lower()
    assert send_reminders(desk)["follow_up_soon"] == 0  # once per stage


def test_switching_off_a_kind_of_reminder_is_saved_and_honoured(desk: Desk, qtbot: QtBot) -> None:
    window = open_main(desk, qtbot)
    api = window.session.api
    window.notification_prefs_action.trigger()
    dialog = visible(desk, NotificationPrefsDialog)
    settle(desk, lambda: dialog.loaded)
    soon = dialog.checks["follow_up_soon"]
    assert soon.text() == "A follow-up is due in an hour" and soon.isChecked()
    qtbot.mouseClick(soon, Qt.MouseButton.LeftButton, pos=QPoint(8, soon.height() // 2))
    assert not soon.isChecked()
    qtbot.keyClick(soon, Qt.Key.Key_Escape)  # Esc: nothing saved
    settle(desk, lambda: closed(dialog))
    prefs = {p["kind"]: p["enabled"] for p in desk.run(api.get("/api/me/notification-preferences"))}
    assert prefs["follow_up_soon"]

    window.notification_prefs_action.trigger()
    dialog = visible(desk, NotificationPrefsDialog)
    settle(desk, lambda: dialog.loaded)
    qtbot.keyClick(dialog.checks["follow_up_soon"], Qt.Key.Key_Space)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    settle(desk, lambda: closed(dialog), message="the settings dialog stayed open")
    prefs = {p["kind"]: p["enabled"] for p in desk.run(api.get("/api/me/notification-preferences"))}
    assert not prefs["follow_up_soon"] and prefs["follow_up_due"]

    lead = make_lead(desk, api)
    make_follow_up(desk, api, lead["id"], datetime.now().astimezone() + timedelta(minutes=30))
    assert send_reminders(desk)["follow_up_soon"] == 0
    pause(desk, 0.5)
    assert window.bell.count == 0
