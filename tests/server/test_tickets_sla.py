"""First-response due times in business hours (pure function, no database): within a day, over a
night, over a weekend, at and after closing time, on days off, across a DST change, and settings
that are malformed fall back to the defaults."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from crm_server.tickets import sla

BUC = ZoneInfo("Europe/Bucharest")
DESK = sla.Schedule(time(9), time(17), frozenset({1, 2, 3, 4, 5}), BUC)


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BUC)


# 2026-11-23 is a Monday; 2026-11-27 a Friday.
@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (local(2026, 11, 23, 10), 2, local(2026, 11, 23, 12)),  # within the day
        (local(2026, 11, 23, 16), 1, local(2026, 11, 23, 17)),  # due exactly at closing: stays at closing
        (local(2026, 11, 23, 16), 2, local(2026, 11, 24, 10)),  # over the night
        (local(2026, 11, 23, 17), 1, local(2026, 11, 24, 10)),  # arrives exactly at closing: counts from tomorrow
        (local(2026, 11, 23, 22), 8, local(2026, 11, 24, 17)),  # arrives at night: a whole working day
        (local(2026, 11, 23, 7), 1, local(2026, 11, 23, 10)),  # arrives before opening
        (local(2026, 11, 27, 16), 2, local(2026, 11, 30, 10)),  # Friday afternoon: over the weekend
        (local(2026, 11, 28, 12), 1, local(2026, 11, 30, 10)),  # Saturday: Monday morning
        (local(2026, 11, 27, 17), 8, local(2026, 11, 30, 17)),  # Friday at closing: all of Monday
        (local(2026, 11, 23, 9), 24, local(2026, 11, 25, 17)),  # three working days
        (local(2026, 11, 27, 10), 16, local(2026, 12, 1, 10)),  # spans a weekend in the middle
    ],
)
def test_due_at_counts_business_hours_only(start: datetime, hours: float, due: datetime) -> None:
    result = sla.due_at(start, hours, DESK)
    assert result == due
    assert result.tzinfo is not None and result.utcoffset() == UTC.utcoffset(None)


def test_due_at_from_utc_input_uses_the_desks_time_zone() -> None:
    # 2026-11-23 15:30 UTC is 17:30 in Bucharest (UTC+2): after closing, so from Tuesday 09:00.
    assert sla.due_at(datetime(2026, 11, 23, 15, 30, tzinfo=UTC), 1, DESK) == local(2026, 11, 24, 10)


def test_due_at_across_the_dst_change() -> None:
    # Summer time ends on Sunday 2026-10-25 in Bucharest (UTC+3 -> UTC+2).
    due = sla.due_at(local(2026, 10, 23, 16), 2, DESK)
    assert due == local(2026, 10, 26, 10)
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_due_at_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        sla.due_at(datetime(2026, 11, 23, 10), 1, DESK)


def test_parse_settings_and_fallbacks() -> None:
    assert sla.parse_days("1-5") == frozenset({1, 2, 3, 4, 5})
    assert sla.parse_days("1-3, 6") == frozenset({1, 2, 3, 6})
    assert sla.parse_hours("08:30-16:00") == (time(8, 30), time(16))
    for bad in ("17:00-09:00", "nine to five"):
        with pytest.raises(ValueError):
            sla.parse_hours(bad)
    with pytest.raises(ValueError):
        sla.parse_days("0-8")
    schedule = sla.schedule_from_settings(
        {"tickets.business_hours": "oops", "tickets.business_days": "6-7", "tickets.time_zone": "Mars/Olympus"}
    )
    assert schedule == sla.Schedule(time(9), time(17), frozenset({6, 7}), BUC)
    assert sla.hours_for({"tickets.sla_critical_hours": 1, "tickets.sla_normal_hours": 8}, "critical") == 1
    # A weekend desk: Saturday and Sunday only.
    assert sla.due_at(local(2026, 11, 27, 10), 1, schedule) == local(2026, 11, 28, 10)
