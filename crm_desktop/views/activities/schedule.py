"""The follow-up dialogs: schedule one, complete one (and schedule the next in the same step), and
reschedule one with a reason. Lead and client details open ``ScheduleFollowUpDialog`` too.

Times are picked in the user's local time and sent as aware timestamps; the server keeps UTC.
Every change goes through ``operations.run`` (crm_desktop.api.activities) and announces its
CHANGED areas, so My day, the week calendar and the record timelines refresh themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shiboken6
from PySide6.QtCore import QDate, QSize, Qt, QTime, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, operations
from crm_desktop.api import activities as activities_api
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.widgets.form import field
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.activities import (
    CompleteFollowUp,
    FollowUpIn,
    FollowUpKind,
    FollowUpOut,
    NextFollowUp,
    RescheduleFollowUp,
)

# kind -> icon: the four ways of following up, in the order the pickers show them (their words are
# format.label's: "FollowUpKind.whatsapp" is "WhatsApp").
KIND_ICONS: dict[FollowUpKind, str] = {
    FollowUpKind.call: "phone",
    FollowUpKind.email: "mail",
    FollowUpKind.whatsapp: "inbox",
    FollowUpKind.meeting: "team",
}
DEFAULT_HOUR = 10

W = TypeVar("W", bound=QWidget)  # add_field hands back the widget it was given, with its own type


# --- time helpers (shared by My day and the week calendar) ---------------------------------------


def local_zone_name() -> str:
    """The user's IANA zone for the server's "today" (My day); UTC when the system gives none we know."""
    from PySide6.QtCore import QTimeZone

    raw = QTimeZone.systemTimeZoneId()
    name = bytes(raw.data()).decode("ascii", "ignore") if hasattr(raw, "data") else str(raw)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def local(moment: datetime) -> datetime:
    """A server timestamp (parsed by the contract model) in the user's local time."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone()


def utc_iso(moment: datetime) -> str:
    """An aware timestamp in UTC, as the server keeps it (tests build bodies with it)."""
    return moment.astimezone(UTC).isoformat()


def kind_icon(kind: str) -> str:
    try:
        return KIND_ICONS[FollowUpKind(kind)]
    except ValueError:  # a kind this version does not know
        return "activities"


def describe(follow_up: FollowUpOut) -> str:
    """One line about a follow-up: "Call Ana Pop (Acme), due 14 May 2026, 10:00"."""
    subject = follow_up.subject or "a record"
    return f"{format.label(follow_up.kind)} {subject}, due {format.moment(follow_up.due_at)}"


# --- pickers -------------------------------------------------------------------------------------


class KindPicker(QWidget):
    """Four toggle buttons, one always chosen (arrow keys move between them, as in a radio group)."""

    changed = Signal(str)

    def __init__(self, kind: str = "call", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        for kind, icon in KIND_ICONS.items():
            key, label = kind.value, format.label(kind)
            button = QPushButton(icons.icon(icon), label)
            button.setCheckable(True)
            button.setAutoDefault(False)  # Enter on a kind saves the dialog, it does not re-pick the kind
            button.setIconSize(QSize(16, 16))
            button.setAccessibleName(label)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.group.addButton(button)
            self.buttons[key] = button
            row.addWidget(button)
        row.addStretch(1)
        self.group.buttonToggled.connect(self._toggled)
        self.set_kind(kind)
        self.setFocusProxy(self.buttons[self.kind()])

    def kind(self) -> str:
        return next((k for k, b in self.buttons.items() if b.isChecked()), "call")

    def set_kind(self, kind: str) -> None:
        self.buttons.get(kind, self.buttons["call"]).setChecked(True)

    def _toggled(self, button: object, checked: bool) -> None:
        if checked:
            self.setFocusProxy(button)  # type: ignore[arg-type]
            self.changed.emit(self.kind())


class WhenPicker(QWidget):
    """A date (with a calendar pop-up) and a time, in local time."""

    def __init__(self, when: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd dd MMM yyyy")  # as format.weekday and format.day say a day
        self.date_edit.setAccessibleName("Date")
        self.date_edit.setMinimumWidth(160)
        self.time_edit = QTimeEdit()
        self.time_edit.setDisplayFormat("HH:mm")
        self.time_edit.setAccessibleName("Time")
        row.addWidget(self.date_edit)
        row.addWidget(self.time_edit)
        row.addStretch(1)
        self.setFocusProxy(self.date_edit)
        self.set_when(when or default_due())

    def set_when(self, when: datetime) -> None:
        local = when.astimezone() if when.tzinfo else when
        self.date_edit.setDate(QDate(local.year, local.month, local.day))
        self.time_edit.setTime(QTime(local.hour, local.minute))

    def when(self) -> datetime:
        """The chosen moment as an aware datetime (local wall time, the system's zone)."""
        day: date = self.date_edit.date().toPython()  # type: ignore[assignment]
        moment: time = self.time_edit.time().toPython()  # type: ignore[assignment]
        return datetime.combine(day, moment.replace(second=0, microsecond=0)).astimezone()


def default_due(now: datetime | None = None) -> datetime:
    """Tomorrow at 10:00 local: when most people would call back."""
    today = (now or datetime.now().astimezone()).astimezone().date()
    return datetime.combine(today + timedelta(days=1), time(DEFAULT_HOUR)).astimezone()


class NotesEdit(QPlainTextEdit):
    """A few lines of text; Tab moves on (it does not type a tab)."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setFixedHeight(84)

    def value(self) -> str:
        return self.toPlainText().strip()


# --- dialogs -------------------------------------------------------------------------------------


class _FollowUpDialog(QDialog):
    """Heading, fields, Cancel and one primary button; Ctrl+Enter submits from anywhere, Esc cancels."""

    def __init__(self, title: str, subtitle: str, action: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(28, 24, 28, 22)
        self.body.setSpacing(14)
        heading = QLabel(title)
        heading.setProperty("role", "heading")
        self.body.addWidget(heading)
        self.subtitle = QLabel(subtitle)
        self.subtitle.setProperty("role", "muted")
        self.subtitle.setWordWrap(True)
        shown_if(self.subtitle, bool(subtitle))
        self.body.addWidget(self.subtitle)
        self.fields_box = QVBoxLayout()
        self.fields_box.setSpacing(12)
        self.body.addLayout(self.fields_box)
        self.body.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        hint = QLabel("Ctrl+Enter to save")
        hint.setProperty("role", "caption")
        buttons.addWidget(hint)
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = QPushButton(action)
        self.save_button.setProperty("role", "primary")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.submit)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        self.body.addLayout(buttons)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.submit)

    def add_field(self, label: str, widget: W, hint: str | None = None) -> W:
        column = QVBoxLayout()
        field(column, label, widget, hint)
        self.fields_box.addLayout(column)
        return widget

    def submit(self) -> None:
        raise NotImplementedError

    def _send(self, coro: Any, done: Callable[[Any], None], fields: Mapping[str, QWidget]) -> None:
        if not self.save_button.isEnabled():
            return  # already sending: Ctrl+Enter twice must not save twice

        def finished(result: Any) -> None:
            done(result)
            if shiboken6.isValid(self):
                self.accept()

        operations.run(
            self,
            coro,
            success=finished,
            changed=activities_api.CHANGED,
            fields=fields,
            busy=self.save_button,
            reload=self.reload,
        )

    def reload(self) -> None:
        """After "someone else changed it": the lists reload (the areas are announced again)."""
        operations.change_bus().announce(activities_api.CHANGED)


class ScheduleFollowUpDialog(_FollowUpDialog):
    """Plan the next touch with a lead or a client: what kind, when, and a note to self."""

    scheduled = Signal(object)  # the new follow-up (FollowUpOut)

    def __init__(
        self, api: ApiClient, lead_id: int | None = None, client_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        if (lead_id is None) == (client_id is None):
            raise ValueError("give either lead_id or client_id")
        super().__init__(
            "Schedule a follow-up", "You will be reminded an hour before and when it is due.", "Schedule", parent
        )
        self.api = api
        self.lead_id = lead_id
        self.client_id = client_id
        self.kind = self.add_field("Kind", KindPicker())
        self.when = self.add_field("When", WhenPicker())
        self.notes = self.add_field("Notes", NotesEdit("What to talk about, what to bring…"))
        self.kind.setFocus()

    def payload(self) -> FollowUpIn:
        # As typed: the server judges it, and its refusal lands next to the field.
        return FollowUpIn.model_construct(
            lead_id=self.lead_id,
            client_id=self.client_id,
            kind=FollowUpKind(self.kind.kind()),
            due_at=self.when.when(),
            notes=self.notes.value(),
        )

    def submit(self) -> None:
        self._send(
            activities_api.create_follow_up(self.api, self.payload()),
            self.scheduled.emit,
            {"kind": self.kind, "due_at": self.when, "notes": self.notes},
        )


class CompleteDialog(_FollowUpDialog):
    """Mark a follow-up done with what came of it; optionally plan the next one in the same step."""

    completed = Signal(object)  # CompleteResult: the done one, and the next one or None

    def __init__(self, api: ApiClient, follow_up: FollowUpOut, parent: QWidget | None = None) -> None:
        super().__init__("Complete follow-up", describe(follow_up), "Complete", parent)
        self.api = api
        self.follow_up = follow_up
        self.outcome = self.add_field("Outcome", NotesEdit("What happened? Interested, call back, sent the offer…"))
        self.whatsapp: QDialog | None = None  # the WhatsApp composer, while open
        self.send_whatsapp = QPushButton(icons.icon("inbox"), "Send WhatsApp…")
        self.send_whatsapp.setObjectName("followUpSendWhatsApp")
        self.send_whatsapp.setToolTip(
            "Send the message now (a template, or free text within 24 hours); it completes this"
        )
        self.send_whatsapp.clicked.connect(self.open_whatsapp)
        self.fields_box.addWidget(self.send_whatsapp)
        shown_if(self.send_whatsapp, follow_up.kind == FollowUpKind.whatsapp)
        self.plan_next = QCheckBox("Schedule the next one")
        self.plan_next.setAccessibleName("Schedule the next one")
        self.fields_box.addWidget(self.plan_next)
        self.next_box = QWidget()
        inner = QVBoxLayout(self.next_box)
        inner.setContentsMargins(24, 0, 0, 0)
        inner.setSpacing(12)
        self.next_kind = KindPicker(follow_up.kind.value)
        self.next_when = WhenPicker()
        self.next_notes = NotesEdit("Notes for the next one")
        self.next_notes.setFixedHeight(60)
        for label, widget in (
            ("Next kind", self.next_kind),
            ("Next date and time", self.next_when),
            ("Next notes", self.next_notes),
        ):
            column = QVBoxLayout()
            field(column, label, widget)
            inner.addLayout(column)
        self.fields_box.addWidget(self.next_box)
        self.next_box.setVisible(False)
        self.plan_next.toggled.connect(self._toggle_next)
        self.outcome.setFocus()

    def open_whatsapp(self) -> QDialog:
        """The WhatsApp composer for this follow-up's lead or client: sending completes it."""
        from crm_desktop.views.whatsapp.composer import WhatsAppDialog

        record = self.follow_up
        kind: Literal["leads", "clients"] = "leads" if record.lead_id is not None else "clients"
        record_id = record.lead_id if record.lead_id is not None else record.client_id
        assert record_id is not None
        self.whatsapp = composer = WhatsAppDialog(self.api, kind, record_id, self, follow_up=record)
        composer.follow_up_done.connect(self._sent_on_whatsapp)
        composer.open()
        return composer

    def _sent_on_whatsapp(self, sent: Any) -> None:
        from crm_server.contract.activities import CompleteResult

        self.completed.emit(CompleteResult(done=sent.follow_up))
        if shiboken6.isValid(self):
            self.accept()

    def _toggle_next(self, on: bool) -> None:
        self.next_box.setVisible(on)
        self.adjustSize()
        if on:
            self.next_kind.setFocus()

    def payload(self) -> CompleteFollowUp:
        body = CompleteFollowUp.model_construct(version=self.follow_up.version, outcome=self.outcome.value())
        if self.plan_next.isChecked():
            body = CompleteFollowUp.model_construct(
                version=self.follow_up.version,
                outcome=self.outcome.value(),
                next=NextFollowUp.model_construct(
                    kind=FollowUpKind(self.next_kind.kind()),
                    due_at=self.next_when.when(),
                    notes=self.next_notes.value(),
                ),
            )
        return body

    def submit(self) -> None:
        self._send(
            activities_api.complete(self.api, self.follow_up.id, self.payload()),
            self.completed.emit,
            {
                "outcome": self.outcome,
                "next.kind": self.next_kind,
                "next.due_at": self.next_when,
                "next.notes": self.next_notes,
                "next": self.next_when,
            },
        )


class RescheduleDialog(_FollowUpDialog):
    """Move a follow-up; the reason is required so the record's history explains the move."""

    rescheduled = Signal(object)  # the moved follow-up (FollowUpOut)

    def __init__(self, api: ApiClient, follow_up: FollowUpOut, parent: QWidget | None = None) -> None:
        super().__init__("Reschedule follow-up", describe(follow_up), "Reschedule", parent)
        self.api = api
        self.follow_up = follow_up
        due = local(follow_up.due_at)
        now = datetime.now().astimezone()
        if due <= now:  # overdue: same time tomorrow is the usual move
            due = datetime.combine(now.date() + timedelta(days=1), due.time().replace(tzinfo=None)).astimezone()
        self.when = self.add_field("New date and time", WhenPicker(due))
        self.reason = self.add_field("Reason", QLineEdit(), "Shown in the record's history.")
        self.reason.setPlaceholderText("Client on holiday, asked to call next week…")
        self.when.setFocus()

    def submit(self) -> None:
        reason = self.reason.text().strip()
        if not reason:
            mark_field(self.reason, "Say why it moves; the reason is kept in the record's history.")
            return
        body = RescheduleFollowUp.model_construct(
            version=self.follow_up.version, due_at=self.when.when(), reason=reason
        )
        self._send(
            activities_api.reschedule(self.api, self.follow_up.id, body),
            self.rescheduled.emit,
            {"due_at": self.when, "reason": self.reason},
        )


__all__ = [
    "KIND_ICONS",
    "CompleteDialog",
    "KindPicker",
    "RescheduleDialog",
    "ScheduleFollowUpDialog",
    "WhenPicker",
    "default_due",
    "describe",
    "kind_icon",
    "local",
    "local_zone_name",
    "utc_iso",
]
