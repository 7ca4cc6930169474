"""First-response due times, counted in business hours only: a ticket that arrives on Friday evening
is due on Monday morning, not while nobody is at work. The arithmetic is pure (no database) so it
can be tested hour by hour; `schedule_from_settings` turns the admin's settings into a Schedule."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEFAULT_HOURS = (time(9), time(17))
DEFAULT_DAYS = frozenset({1, 2, 3, 4, 5})
DEFAULT_ZONE = "Europe/Bucharest"
_BUCHAREST = ZoneInfo(DEFAULT_ZONE)
PRIORITY_SETTINGS = {
    "critical": "tickets.sla_critical_hours",
    "high": "tickets.sla_high_hours",
    "normal": "tickets.sla_normal_hours",
}


@dataclass(frozen=True)
class Schedule:
    """When the support desk works: daily opening and closing time, ISO weekdays (1 = Monday), zone."""

    opens: time = DEFAULT_HOURS[0]
    closes: time = DEFAULT_HOURS[1]
    days: frozenset[int] = DEFAULT_DAYS
    zone: ZoneInfo = _BUCHAREST


def parse_hours(text: str) -> tuple[time, time]:
    """ "09:00-17:00" -> (09:00, 17:00); the desk must open before it closes."""
    start, _, end = text.replace(" ", "").partition("-")
    opens, closes = time.fromisoformat(start), time.fromisoformat(end)
    if opens >= closes:
        raise ValueError(f"business hours {text!r}: opening must come before closing")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """ "1-5" (Monday to Friday), "1,2,3", "1-3,6"; ISO weekdays 1..7."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"business days {text!r}: use weekdays 1 (Monday) to 7 (Sunday)")
    return frozenset(days)


def schedule_from_settings(values: dict[str, Any]) -> Schedule:
    """The admin's settings as a Schedule; a malformed value falls back to its default (and is logged)
    rather than stopping every new ticket."""
    try:
        opens, closes = parse_hours(str(values.get("tickets.business_hours", "09:00-17:00")))
    except ValueError:
        log.warning("bad tickets.business_hours %r; using 09:00-17:00", values.get("tickets.business_hours"))
        opens, closes = DEFAULT_HOURS
    try:
        days = parse_days(str(values.get("tickets.business_days", "1-5")))
    except ValueError:
        log.warning("bad tickets.business_days %r; using 1-5", values.get("tickets.business_days"))
        days = DEFAULT_DAYS
    try:
        zone = ZoneInfo(str(values.get("tickets.time_zone", DEFAULT_ZONE)))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("bad tickets.time_zone %r; using %s", values.get("tickets.time_zone"), DEFAULT_ZONE)
        zone = ZoneInfo(DEFAULT_ZONE)
    return Schedule(opens, closes, days, zone)


def hours_for(values: dict[str, Any], priority: str) -> float:
    return float(values.get(PRIORITY_SETTINGS.get(priority, PRIORITY_SETTINGS["normal"]), 8))


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, zone)


def due_at(start: datetime, hours: float, schedule: Schedule) -> datetime:
    """`start` plus `hours` of business time, in UTC. Time outside business hours does not count: a
    ticket that arrives at or after closing (or on a day off) starts counting at the next opening; a
    deadline that falls exactly at closing stays at closing, not at the next opening."""
    if start.utcoffset() is None:
        raise ValueError("start must carry a time zone")
    remaining = timedelta(hours=hours)
    moment = start.astimezone(schedule.zone)
    day = moment.date()
    for _ in range(3700):  # ten years of days off at most; a schedule always has a working day
        opens, closes = _at(day, schedule.opens, schedule.zone), _at(day, schedule.closes, schedule.zone)
        if day.isoweekday() in schedule.days and moment < closes:
            moment = max(moment, opens)
            available = closes - moment
            if remaining <= available:
                return (moment + remaining).astimezone(ZoneInfo("UTC"))
            remaining -= available
        day += timedelta(days=1)
        moment = _at(day, schedule.opens, schedule.zone)
    raise ValueError("no business day found")
