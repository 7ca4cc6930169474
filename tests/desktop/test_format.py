"""The one formatter: what people read for amounts, quantities, typed numbers, days, times and codes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm_desktop import format as fmt
from crm_server.contract.invoices import PaymentMethod


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("20900"), "RON", "20,900.00 RON"),
        ("20900.00", "RON", "20,900.00 RON"),
        ("1234.5", "jpy", "1,235 JPY"),
        ("-0.001", "EUR", "0.00 EUR"),
        ("12.345", "KWD", "12.345 KWD"),
        (None, "EUR", "—"),
        ("-1500", None, "-1,500.00"),
    ],
)
def test_money(amount: object, currency: str | None, shown: str) -> None:
    assert fmt.money(amount, currency) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("1 200,50", Decimal("1200.50")),
        ("1,200.50", Decimal("1200.50")),
        ("1.200,50", Decimal("1200.50")),
        ("3", Decimal(3)),
        ("1,200", Decimal(1200)),
        ("12,345,678", Decimal(12345678)),
        ("1,5", Decimal("1.5")),
        ("1,2000", Decimal("1.2")),
        ("  ", None),
        ("abc", None),
        ("NaN", None),
        ("1e400", Decimal("1e400")),
    ],
)
def test_parse_decimal(typed: str, parsed: Decimal | None) -> None:
    assert fmt.parse_decimal(typed) == parsed


def test_quantities_days_moments_and_labels() -> None:
    assert [fmt.quantity(v) for v in ("12.000", "2.500", "1200", "-0.000", None)] == ["12", "2.5", "1,200", "0", ""]
    assert fmt.day("2026-12-05") == fmt.day(date(2026, 12, 5)) == "05 Dec 2026"
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert fmt.moment("2026-12-05T12:00:00Z") == fmt.moment(noon) == noon.astimezone().strftime("%d %b %Y, %H:%M")
    assert fmt.moment(None) == "—" and fmt.day("") == "—"
    assert fmt.short_day("2026-12-05", today=date(2026, 1, 1)) == "05 Dec"
    assert fmt.short_day("2025-12-05", today=date(2026, 1, 1)) == "05 Dec 2025"
    assert fmt.label("status_changed") == "Status changed" and fmt.label("owner_id") == "Owner"
    assert fmt.label("orders") == "Sales orders" and fmt.label("team_id") == "Team"
    assert fmt.label(PaymentMethod.transfer) == "Bank transfer" and fmt.label("transfer") == "Transfer"
    assert fmt.value(["hot", "vip"]) == "hot, vip" and fmt.value(True) == "Yes" and fmt.value("") == "—"


def test_an_absurd_amount_is_shown_not_a_crash() -> None:
    assert fmt.money("1e400", "EUR") == "1e400 EUR"


@pytest.mark.parametrize(
    ("minutes", "parts", "shown"),
    [
        (0.5, 2, "0 min"),
        (40, 2, "40 min"),
        (185, 2, "3 h 5 min"),
        (180, 2, "3 h"),
        (52 * 60, 2, "2 d 4 h"),
        (49 * 60 + 5, 2, "2 d 1 h"),
        (185, 1, "3 h"),
        (49 * 60 + 5, 1, "2 d"),
        (-10, 2, "0 min"),
    ],
)
def test_durations(minutes: float, parts: int, shown: str) -> None:
    """One way to say how long (the ticket's SLA clock, the queue's "updated 3 h ago")."""
    from datetime import timedelta

    assert fmt.duration(timedelta(minutes=minutes), parts=parts) == shown


def test_how_long_ago() -> None:
    """The queue's Updated column and the bell's list say it one way."""
    from datetime import timedelta

    now = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert fmt.ago(now - timedelta(seconds=20), now) == "just now"
    assert fmt.ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert fmt.ago("2026-12-05T13:50:00Z", now) == "3 h ago"
    assert fmt.ago(now - timedelta(days=2, hours=4), now) == "2 d ago"
    assert fmt.ago(None, now) == fmt.EMPTY


def test_week_days_times_and_follow_up_kinds() -> None:
    from crm_server.contract.activities import FollowUpKind

    assert fmt.weekday(date(2026, 12, 5), today=date(2026, 1, 1)) == "Sat 05 Dec"
    assert fmt.weekday("2025-12-05", today=date(2026, 1, 1)) == "Fri 05 Dec 2025"
    assert fmt.weekday(None) == "—" and fmt.clock(None) == "—"
    noon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert fmt.clock("2026-12-05T12:00:00Z") == fmt.clock(noon) == noon.astimezone().strftime("%H:%M")
    words = [fmt.label(kind) for kind in FollowUpKind]
    assert words == ["Call", "Email", "WhatsApp", "Meeting"]
    assert fmt.label("whatsapp") == "Whatsapp"  # the enum's own word stays the enum's
