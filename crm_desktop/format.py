"""The one place the desktop makes text for people: money, quantities, dates and times (one style, in
the user's local time), and the words for the contract's codes (statuses, actions, modules, fields).

    money(Decimal("20900"), "RON")      -> "20,900.00 RON"
    quantity("12.500")                   -> "12.5"
    parse_decimal("1 200,50")            -> Decimal("1200.50")   (what a person typed; None if not a number)
    day("2026-12-05")                    -> "05 Dec 2026"
    moment("2026-12-05T17:13:00Z")       -> "05 Dec 2026, 18:13" (in the user's time zone)
    weekday(date(2026, 12, 5))           -> "Sat 05 Dec"   (a week view's day; the year when not this one)
    clock("2026-12-05T17:13:00Z")        -> "18:13"
    label("status_changed")              -> "Status changed"
    duration(timedelta(minutes=185))     -> "3 h 5 min"  (parts=1: "3 h")
    ago(a_moment_three_hours_back)       -> "3 h ago"

Views never format these by hand: a second formatter is how "20900.00" and "20,900 RON" came to
show the same amount on two screens.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum

from crm_server.contract.common import minor_unit

EMPTY = "—"
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
DAY_FORMAT = "%d %b %Y"
DAY_EDIT_FORMAT = "dd MMM yyyy"  # DAY_FORMAT as a Qt date edit writes it (widgets.form.date_edit)
TIME_FORMAT = "%H:%M"

# Words whose label is not their code with the underscores taken out and a capital put in front.
LABELS: dict[str, str] = {
    # modules
    "admin": "Administration",
    "activities": "Follow-ups",
    "orders": "Sales orders",
    "email_pipe": "Inbound email",
    "webforms": "Website forms",
    "purchasing": "Purchase orders",
    # fields
    "person_name": "Name",
    "owner_id": "Owner",
    "team_id": "Team",
    "role_id": "Role",
    "client_id": "Client",
    "contact_id": "Contact",
    "category_id": "Category",
    "assignee_id": "Assignee",
    "status_id": "Status",
    "pipeline_id": "Pipeline",
    "lost_reason_id": "Lost reason",
    "tax_rate_id": "VAT rate",
    "vat_number": "VAT number",
    "sku": "SKU",
    "url": "Address",
    "expected_close_date": "Expected close",
    "totp_enabled": "Two-factor sign-in",
    "must_change_password": "Must change password",
    # statuses and actions
    "in_process": "In progress",
    "needs_attention": "Needs attention",
    "partially_paid": "Partly paid",
    "partially_received": "Partly received",
    "credit_note": "Credit note",
    # one code, other words in one enum's context (stock transfers stay "Transfer")
    "PaymentMethod.transfer": "Bank transfer",
    "FollowUpKind.whatsapp": "WhatsApp",
    # record types and audit actions
    "follow_up": "Follow-up",
    # job run states (procrastinate's)
    "todo": "Waiting",
    "doing": "Running",
    "updated": "Changed",
    "reassigned": "Handed over",
    "ok": "OK",
}


def _decimal(value: Decimal | str | int | float | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def money(amount: Decimal | str | int | float | None, currency: str | None = None) -> str:
    """An amount with thousands separators and its currency's decimals: "20,900.00 RON"."""
    number = _decimal(amount)
    if number is None:
        return EMPTY if amount is None or amount == "" else str(amount)
    places = minor_unit(currency) if currency else 2
    try:
        number = number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)  # as the server rounds
    except InvalidOperation:  # more digits than a Decimal context holds: shown as it came
        return f"{amount} {currency.upper()}" if currency else str(amount)
    text = f"{number:,.{places}f}"
    if text.startswith("-") and _decimal(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0.00"
    return f"{text} {currency.upper()}" if currency else text


def number(value: Decimal | str | int | float | None) -> str:
    """A count or a plain number with thousands separators: 12,345."""
    parsed = _decimal(value)
    if parsed is None:
        return EMPTY if value is None or value == "" else str(value)
    return f"{parsed:,f}" if parsed != parsed.to_integral_value() else f"{parsed:,.0f}"


def quantity(value: Decimal | str | int | float | None) -> str:
    """A quantity as a person writes it: "12", "2.5", "1,200" (the wire says "12.000")."""
    parsed = _decimal(value)
    if parsed is None:
        return "" if value is None or value == "" else str(value)
    text = f"{parsed.normalize():,f}"
    return "0" if text in ("-0", "0") else text


def parse_decimal(text: str) -> Decimal | None:
    """A number as typed ("1 200,50", "3", "1,200.50", and "1,200" as this module writes it); None
    when it is not a number at all. A comma is the decimal point unless it groups thousands."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace("'", "")
    if not cleaned:
        return None
    if "," in cleaned and "." in cleaned:  # one is the thousands separator: the last one is the point
        thousands = "," if cleaned.rfind(",") < cleaned.rfind(".") else "."
        cleaned = cleaned.replace(thousands, "")
    elif _GROUPED.fullmatch(cleaned):  # "1,200" / "12,345,678": what money() and quantity() write
        cleaned = cleaned.replace(",", "")
    cleaned = cleaned.replace(",", ".")
    return _decimal(cleaned)


def _datetime(value: datetime | str) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def day(value: date | datetime | str | None) -> str:
    """A calendar day: "05 Dec 2026" (a timestamp is first put in the user's time zone)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
        moment_ = _datetime(value)
        return moment_.astimezone().strftime(DAY_FORMAT) if moment_ is not None else str(value)
    if isinstance(value, date):
        return value.strftime(DAY_FORMAT)
    try:
        return date.fromisoformat(value).strftime(DAY_FORMAT)
    except ValueError:
        return value


def month(value: date | None) -> str:
    """A calendar month: "December 2026" (a month's rows carry its first day)."""
    return value.strftime("%B %Y") if value is not None else EMPTY


def short_day(value: date | datetime | str | None, today: date | None = None) -> str:
    """A day where room is short (a card): "05 Dec" in this year, "05 Dec 2025" in another."""
    shown = day(value)
    year = f" {(today or date.today()).year}"
    return shown.removesuffix(year) if shown.endswith(year) else shown


def weekday(value: date | datetime | str | None, today: date | None = None) -> str:
    """A day with its name, where a week is shown: "Sat 05 Dec" (the year only when not this one)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
        parsed = _datetime(value)
        if parsed is None:
            return str(value)
        the_day = parsed.astimezone().date()
    elif isinstance(value, str):
        try:
            the_day = date.fromisoformat(value)
        except ValueError:
            return value
    else:
        the_day = value
    return f"{the_day:%a} {short_day(the_day, today)}"


def clock(value: datetime | str | None) -> str:
    """The time of day of a server timestamp, in the user's local time: "18:13"."""
    if value is None or value == "":
        return EMPTY
    parsed = _datetime(value)
    return parsed.astimezone().strftime(TIME_FORMAT) if parsed is not None else str(value)


def moment(value: datetime | str | None) -> str:
    """A server timestamp (UTC) in the user's local time: "05 Dec 2026, 18:13"."""
    if value is None or value == "":
        return EMPTY
    parsed = _datetime(value)
    if parsed is None:
        return str(value)
    return parsed.astimezone().strftime(f"{DAY_FORMAT}, {TIME_FORMAT}")


def duration(delta: timedelta, parts: int = 2) -> str:
    """How long, roughly, for a person: "40 min", "3 h 5 min", "2 d 4 h" (`parts=1`: "3 h", "2 d")."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, mins = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    units = [(days, "d"), (hours, "h"), (mins, "min")]
    first = next((i for i, (amount, _unit) in enumerate(units) if amount), len(units) - 1)
    shown = [f"{amount} {unit}" for amount, unit in units[first : first + parts] if amount]
    return " ".join(shown) or "0 min"


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """How long ago, narrow: "just now", "5 min ago", "3 h ago", "2 d ago" (a tooltip gives the moment)."""
    if value is None or value == "":
        return EMPTY
    parsed = _datetime(value)
    if parsed is None:
        return str(value)
    passed = (now or datetime.now(parsed.tzinfo)) - parsed
    return "just now" if passed < timedelta(minutes=1) else f"{duration(passed, parts=1)} ago"


def label(word: str | Enum | None) -> str:
    """The words for a code of the contract: "status_changed" -> "Status changed"."""
    if word is None:
        return EMPTY
    code = str(word.value if isinstance(word, Enum) else word)
    if isinstance(word, Enum) and f"{type(word).__name__}.{code}" in LABELS:
        return LABELS[f"{type(word).__name__}.{code}"]
    if code in LABELS:
        return LABELS[code]
    text = code.removesuffix("_id").replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:] if text else EMPTY


def value(item: object) -> str:
    """Any field's value in a sentence: lists joined, nothing said as such."""
    if item is None or item == "" or item == []:
        return EMPTY
    if isinstance(item, list | tuple):
        return ", ".join(value(v) for v in item)
    if isinstance(item, bool):
        return "Yes" if item else "No"
    if isinstance(item, Enum):
        return label(item)
    return str(item)
