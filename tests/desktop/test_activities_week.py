"""Activities as a team uses them (#17): a manager picks a teammate's day and week by name, sees
everyone's week as one list, day then owner, one full-width line per follow-up; a salesperson who picks a
colleague sees nothing of theirs; My day puts the most overdue first, toned by how late."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTreeWidgetItem
from pytestqt.qtbot import QtBot

from crm_desktop import format, theme
from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.activities.calendar import WeekView
from crm_desktop.views.activities.my_day import Lateness, MyDayView
from crm_desktop.views.activities.person_filter import PersonFilter, Whose
from crm_desktop.views.main_window import MainWindow
from tests.desktop.conftest import Desk
from tests.desktop.test_follow_ups import make_follow_up, open_activities, settle
from tests.support import PASSWORD


def sign_in(desk: Desk, qtbot: QtBot, email: str) -> MainWindow:
    """The main window of a user who already exists (open_main makes a new one, without a team)."""
    api = desk.api()
    desk.run(auth.login(api, email, PASSWORD))
    session = Session(api, desk.run(auth.me(api)))
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.start()
    window.show()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    return window


def lead_of(desk: Desk, admin: Any, owner_id: int, company: str) -> dict[str, Any]:
    lead: dict[str, Any] = desk.run(
        admin.post("/api/leads", {"person_name": "Ana Pop", "company": company, "owner_id": owner_id})
    )
    return lead


def today_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.now().astimezone().date(), time(hour, minute)).astimezone()


def group(my_day: MyDayView, index: int) -> tuple[str, list[QTreeWidgetItem]]:
    """A group of My day: its title ("Overdue · 3") and its rows."""
    top = my_day.tree.topLevelItem(index)
    assert top is not None, f"My day has no group {index}"
    rows = [top.child(i) for i in range(top.childCount())]
    return top.text(0), [r for r in rows if r is not None]


def pick(desk: Desk, qtbot: QtBot, person: PersonFilter, typed: str, expect: str) -> None:
    """Choose "One person…" with the keyboard and pick a colleague by typing part of their name."""
    person.mode.setFocus()
    while person.whose() is not Whose.person:
        qtbot.keyClick(person.mode, Qt.Key.Key_Down)
    assert person.picker.isVisible()
    person.picker.setFocus()
    person.picker.clear()
    qtbot.keyClicks(person.picker, typed)
    desk.wait_until(
        lambda: person.picker.matches.rowCount() == 1 and person.picker.matches.item(0).text().startswith(expect),
        message=f"the picker did not find {expect}",
    )
    person.picker.choose(0)  # Enter on the one match


def test_a_manager_sees_a_teammates_day_and_everyones_week_by_person(desk: Desk, qtbot: QtBot) -> None:
    sam = desk.create_user("sam@example.com", full_name="Sam Seller", team="North")
    tess = desk.create_user("tess@example.com", full_name="Tess Trader", team="North")
    olga = desk.create_user("olga@example.com", full_name="Olga South", team="South")
    desk.create_user("mia@example.com", role="Manager", full_name="Mia Manager", team="North")
    admin = desk.signed_in_api()
    sams = lead_of(desk, admin, sam, "Acme Industrial Supplies and Logistics")
    make_follow_up(desk, admin, sams["id"], today_at(8), notes="Budget")
    make_follow_up(desk, admin, sams["id"], today_at(16), kind="meeting")
    make_follow_up(desk, admin, lead_of(desk, admin, tess, "Globex")["id"], today_at(9), kind="email")
    make_follow_up(desk, admin, lead_of(desk, admin, olga, "Initech")["id"], today_at(10))

    window = sign_in(desk, qtbot, "mia@example.com")
    page = open_activities(window)
    my_day = page.my_day
    settle(desk, lambda: my_day.loaded)
    assert my_day.stack.currentWidget() is my_day.empty  # her own day is empty
    pick(desk, qtbot, my_day.person, "sam", "Sam Seller")
    settle(desk, lambda: len(my_day.overdue) + len(my_day.today) == 2, message="Sam's day did not load")
    assert my_day.summary.text().startswith("Sam Seller: ")
    assert my_day.stack.currentWidget() is my_day.tree
    pick(desk, qtbot, my_day.person, "olga", "Olga South")  # another team: the server shows her nothing
    settle(desk, lambda: my_day.stack.currentWidget() is my_day.empty, message="Olga's day should be out of reach")

    week: WeekView = page.show_week()
    window.resize(1280, 800)  # the smallest window the app is made for
    settle(desk, lambda: week.loaded)
    today = datetime.now().astimezone().date()
    column = week.columns[today.weekday()]
    assert not column.texts()  # her own week
    week.person.mode.setFocus()
    qtbot.keyClick(week.person.mode, Qt.Key.Key_Down)  # Everyone I can see
    assert week.person.whose() is Whose.everyone and not week.person.picker.isVisible()
    agenda = week.agenda
    settle(desk, lambda: bool(agenda.texts(today)), message="everyone's week did not load")
    # One full-width list, day then person, instead of seven ~110 px columns ("08:19 Chia…").
    assert week.stack.currentWidget() is agenda and not week.week_grid.isVisible()
    assert agenda.texts(today) == [
        "Sam Seller",
        "08:00 Ana Pop (Acme Industrial Supplies and Logistics)",
        "16:00 Ana Pop (Acme Industrial Supplies and Logistics)",
        "Tess Trader",
        "09:00 Ana Pop (Globex)",
    ]  # Olga's (South) is not hers to see
    assert agenda.days[today].text(0) == f"{format.weekday(today)} · 3 follow-ups"
    assert [agenda.topLevelItem(i).text(0).split(" · ")[0] for i in range(7)] == [  # type: ignore[union-attr]
        format.weekday(d) for d in week.days()
    ]
    rows = agenda.rows()
    assert [(r.text(0), r.text(1)) for r in rows] == [("08:00", "Call"), ("16:00", "Meeting"), ("09:00", "Email")]
    settle(desk, lambda: all(agenda.visualItemRect(r).height() > 0 for r in rows), message="the agenda is not open")
    metrics = QFontMetrics(agenda.font())
    line = metrics.height()
    for row in rows:  # each on one line, read whole: nothing elided at 1280 x 800
        rect = agenda.visualItemRect(row)
        assert 0 < rect.height() < 2 * line, f"{row.text(2)!r} takes more than a line"
        about = agenda.visualRect(agenda.indexFromItem(row, 2))
        assert metrics.horizontalAdvance(row.text(2)) + 8 < about.width(), f"{row.text(2)!r} does not fit"
        time_rect = agenda.visualRect(agenda.indexFromItem(row, 0))
        assert metrics.horizontalAdvance(row.text(0)) < time_rect.width(), f"{row.text(0)!r} does not fit"
    assert "Owner: Sam Seller" in rows[0].toolTip(2)
    assert rows[1].toolTip(0).startswith("Meeting at 16:00")
    header = agenda.days[today].child(0)
    assert header is not None and header.text(0) == "Sam Seller"
    assert not header.flags() & Qt.ItemFlag.ItemIsSelectable
    qtbot.mouseClick(agenda.viewport(), Qt.MouseButton.LeftButton, pos=agenda.visualItemRect(header).center())
    assert week.menu is None  # a person's name is not a follow-up: no menu
    qtbot.mouseClick(agenda.viewport(), Qt.MouseButton.LeftButton, pos=agenda.visualItemRect(rows[0]).center())
    menu = week.menu
    assert menu is not None and [a.text() for a in menu.actions()] == ["Complete…", "Reschedule…", "Open record"]
    menu.close()

    pick(desk, qtbot, week.person, "tess", "Tess Trader")
    settle(desk, lambda: column.texts() == ["09:00 Ana Pop (Globex)"], message=f"Tess's week: {column.texts()}")
    assert week.stack.currentWidget() is week.week_grid  # one person's week: the seven days again


def test_a_salesperson_who_picks_a_colleague_sees_nothing_of_theirs(desk: Desk, qtbot: QtBot) -> None:
    sam = desk.create_user("sam@example.com", full_name="Sam Seller", team="North")
    tess = desk.create_user("tess@example.com", full_name="Tess Trader", team="North")
    admin = desk.signed_in_api()
    make_follow_up(desk, admin, lead_of(desk, admin, sam, "Acme")["id"], today_at(11))
    make_follow_up(desk, admin, lead_of(desk, admin, tess, "Globex")["id"], today_at(12))
    window = sign_in(desk, qtbot, "tess@example.com")
    week = open_activities(window).show_week()
    column = week.columns[datetime.now().astimezone().weekday()]
    settle(desk, lambda: column.texts() == ["12:00 Ana Pop (Globex)"], message=f"her week: {column.texts()}")
    pick(desk, qtbot, week.person, "sam", "Sam Seller")
    settle(desk, lambda: not column.texts(), message=f"Sam's week, as Tess may see it: {column.texts()}")
    assert week.person.owner_id() == sam and week.items == []


def test_my_day_puts_the_most_overdue_first_toned_by_how_late(desk: Desk, qtbot: QtBot) -> None:
    me = desk.create_user("sam@example.com", full_name="Sam Seller", team="North")
    admin = desk.signed_in_api()
    lead = lead_of(desk, admin, me, "Acme")
    now = datetime.now().astimezone()
    dues = {
        "two hours": now - timedelta(hours=2),
        "ten days": now - timedelta(days=10),
        "later": now + timedelta(minutes=30),
        "two days": now - timedelta(days=2, minutes=5),
    }
    made = {name: make_follow_up(desk, admin, lead["id"], due, notes=name)["id"] for name, due in dues.items()}
    window = sign_in(desk, qtbot, "sam@example.com")
    my_day: MyDayView = open_activities(window).show_my_day()
    settle(desk, lambda: len(my_day.overdue) >= 3, message="the overdue ones did not load")
    title, rows = group(my_day, 0)
    assert title == "Overdue · 3"
    assert [r.text(4) for r in rows] == ["ten days", "two days", "two hours"]  # most overdue first
    assert [r.text(1) for r in rows] == ["10 d", "2 d", "2 h"]
    ten_days = dues["ten days"]
    assert rows[0].text(0) == f"{format.weekday(ten_days)}, {format.clock(ten_days)}"  # "Wed 25 Nov, 14:05"
    assert [my_day.lateness_of(made[n]) for n in ("ten days", "two days", "two hours")] == [
        Lateness.week,
        Lateness.days,
        Lateness.hours,
    ]
    tokens = theme.current().token
    very, late, hours = rows
    assert very.background(0).color().name() == tokens("danger_soft")
    assert very.foreground(3).color().name() == tokens("danger")
    assert late.background(2).color().name() == tokens("warning_bg")
    assert hours.foreground(0).color().name() == tokens("warning_text")
    assert hours.background(0).style() == Qt.BrushStyle.NoBrush
    if my_day.today:  # "later" is half an hour away: still today unless the day ends sooner
        later = group(my_day, 1)[1][0]
        assert (later.text(4), later.text(1)) == ("later", "")
        assert my_day.lateness_of(made["later"]) is Lateness.on_time
        assert later.background(0).style() == Qt.BrushStyle.NoBrush
