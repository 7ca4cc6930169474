"""The Activities module: follow-ups as My day (what to do today, overdue first) and a week calendar.

``create_page(session)`` is what the sidebar opens; the page starts on My day. Scheduling happens on
a lead or a client (``schedule.ScheduleFollowUpDialog``); this page completes and reschedules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from crm_desktop import icons
from crm_desktop.session import Session
from crm_desktop.views.activities.calendar import WeekView
from crm_desktop.views.activities.my_day import MyDayView
from crm_desktop.views.activities.person_filter import Whose


class ActivitiesPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 26, 32, 24)
        layout.setSpacing(2)
        title = QLabel("Activities")
        title.setProperty("role", "title")
        subtitle = QLabel("Your calls, emails and meetings: what is due today, and the week ahead")
        subtitle.setProperty("role", "muted")
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(14)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.my_day = MyDayView(session)
        self.week = WeekView(session)
        self.tabs.addTab(self.my_day, icons.icon("check"), "My day")
        self.tabs.addTab(self.week, icons.icon("activities"), "Week")
        layout.addWidget(self.tabs, 1)
        self.tabs.setCurrentWidget(self.my_day)

    def show_my_day(self) -> MyDayView:
        self.tabs.setCurrentWidget(self.my_day)
        return self.my_day

    def show_filtered(self, values: dict[str, Any]) -> None:
        """A Home figure's filter: {"due": "today" | "overdue"} shows My day with only that group."""
        due = values.get("due")
        self.show_my_day().show_due(due if isinstance(due, str) else None)

    def show_week(self) -> WeekView:
        self.tabs.setCurrentWidget(self.week)
        return self.week

    def is_busy(self) -> bool:
        return self.my_day.is_busy() or self.week.is_busy()


def create_page(session: Session) -> QWidget:
    return ActivitiesPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """My day and the week calendar as the demo admin sees them: their own week and everyone's
    (grouped by person), then back to their own."""
    ctx.main.open_module("activities")
    page = ctx.main.findChild(ActivitiesPage)
    if page is None:
        return
    yield "activities-my-day", page.show_my_day()
    week = page.show_week()
    yield "activities-week", week
    week.person.set_whose(Whose.everyone)
    yield "activities-week-everyone", week
    busiest = Counter((f.owner_id, f.owner_name) for f in week.items if f.owner_id is not None).most_common(1)
    week.person.set_whose(Whose.mine)
    my_day = page.show_my_day()
    if busiest:  # the day of the one with most to do: the overdue tones and the person filter
        (owner_id, name), _count = busiest[0]
        my_day.person.choose_person(owner_id, name or "")
        yield "activities-my-day-person", my_day
        my_day.person.set_whose(Whose.mine)


__all__ = ["ActivitiesPage", "create_page", "screenshot_states"]
