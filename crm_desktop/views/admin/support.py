"""Support setup: the ticket categories (ticket_categories.py), the service levels
(first-response hours per priority, counted in business hours only) and the inbound email pipe.

The settings here are the server's `tickets.*` and `email_pipe.*`
keys, on the same form base as the Settings page (common.SettingsForm). The pipe's token is write-only: the
server only says whether one is set, so "Generate" saves a fresh one at once and shows it this
one time, for IT to paste into the mail provider.
"""

from __future__ import annotations

import secrets
import zoneinfo
from typing import Any

from PySide6.QtCore import Qt, QTime, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QLabel,
    QLineEdit,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.views.admin.common import (
    AdminPage,
    Columns,
    Event,
    ScreenshotState,
    SettingsForm,
    confirm,
    field,
    in_row,
    scrolled,
    title_label,
    tone,
)
from crm_desktop.views.admin.ticket_categories import CATEGORIES, CategoryList
from crm_server.contract.admin import SettingsOut
from crm_server.contract.auth import Me

SETTINGS = admin_api.SETTINGS
TEAMS = admin_api.TEAM_AREAS
TOKEN_KEY = "email_pipe.token"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- business days as the server stores them ("1-5", "1-3,6") -------------------------------------


def parse_days(text: str) -> set[int]:
    """ISO weekdays (1 = Monday) of "1-5" / "1,2,3" / "1-3,6"; an unreadable value gives none."""
    days: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            first, _, last = part.partition("-")
            days.update(range(int(first), int(last or first) + 1))
    except ValueError:
        return set()
    return {d for d in days if 1 <= d <= 7}


def format_days(days: set[int]) -> str:
    """The shortest text for `days`: runs of three or more become "a-b"."""
    parts: list[str] = []
    run: list[int] = []
    for day in [*sorted(days), 99]:
        if run and day == run[-1] + 1:
            run.append(day)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
        run = [day]
    return ",".join(parts)


class SupportSettings(QWidget, SettingsForm):
    """Service levels and the email pipe's rules, saved together with Save (Ctrl+S)."""

    saved_what = "support setting"

    def __init__(self, page: SupportPage) -> None:
        super().__init__()
        self.page = page
        self.init_form(page)

        # --- service levels
        self.sla_critical = self.spin_input("tickets.sla_critical_hours", 1, 200, " h", "Critical first response")
        self.sla_high = self.spin_input("tickets.sla_high_hours", 1, 200, " h", "High first response")
        self.sla_normal = self.spin_input("tickets.sla_normal_hours", 1, 200, " h", "Normal first response")
        self.opens = QTimeEdit()
        self.closes = QTimeEdit()
        for edit, name in ((self.opens, "Opens at"), (self.closes, "Closes at")):
            edit.setDisplayFormat("HH:mm")
            edit.setAccessibleName(name)
            edit.timeChanged.connect(self._changed)
        hours = in_row(self.opens, QLabel("to"), self.closes, stretch=True)
        self.bind("tickets.business_hours", hours, self._hours, self._put_hours)
        self.days = [QCheckBox(name) for name in WEEKDAYS]
        for box in self.days:
            box.toggled.connect(self._changed)
        days = in_row(*self.days, stretch=True)
        self.bind("tickets.business_days", days, self._days, self._put_days)
        self.zones = sorted(zoneinfo.available_timezones())
        self.time_zone = QComboBox()
        self.time_zone.setEditable(True)
        self.time_zone.addItems(self.zones)
        self.time_zone.setAccessibleName("Time zone")
        self.time_zone.setMinimumWidth(240)
        self.time_zone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        completer = self.time_zone.completer()
        assert completer is not None
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.time_zone.currentTextChanged.connect(self._changed)
        self.bind(
            "tickets.time_zone",
            self.time_zone,
            lambda: self.time_zone.currentText().strip(),
            lambda v: self.time_zone.setCurrentText("" if v is None else str(v)),
        )
        self.archive_days = self.spin_input("tickets.archive_after_days", 1, 3650, " days", "Archive after")
        levels = self.group(
            "Service levels",
            [
                ("Critical", field(self.sla_critical)),
                ("High", field(self.sla_high)),
                ("Normal", field(self.sla_normal, "Hours to the first answer, counted in business hours only.")),
                ("Business hours", field(hours)),
                ("Business days", field(days)),
                ("Time zone", field(self.time_zone, "Business hours are in this zone's local time.")),
                ("Archive closed tickets", field(self.archive_days, "after they have been closed this long.")),
            ],
        )

        # --- email pipe
        self.token_state = QLabel("")
        self.token_state.setObjectName("tokenState")
        self.generate_button = QPushButton("Generate…")
        self.generate_button.setToolTip("Make a new random token and save it (the old one stops working)")
        self.generate_button.clicked.connect(self.ask_generate)
        self.off_button = QPushButton("Turn off")
        self.off_button.setToolTip("Forget the token: the email webhook refuses every message")
        self.off_button.clicked.connect(self.ask_turn_off)
        token_box = in_row(self.token_state, self.generate_button, self.off_button, grow=self.token_state)
        self.new_token = QLineEdit()
        self.new_token.setObjectName("newToken")
        self.new_token.setReadOnly(True)
        self.new_token.setAccessibleName("The new token")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_token)
        self.token_shown = in_row(self.new_token, self.copy_button, grow=self.new_token)
        self.token_shown.setVisible(False)
        self.registered_only = self.check_input(
            "email_pipe.registered_only", "Only registered contacts and clients may open tickets"
        )
        self.replies_only = self.check_input(
            "email_pipe.replies_only", "Only replies to existing tickets (no new tickets by email)"
        )
        self.max_per_window = self.spin_input("email_pipe.max_per_window", 1, 10000, " messages", "Limit")
        self.window_minutes = self.spin_input("email_pipe.window_minutes", 1, 1440, " minutes", "Limit window")
        limit = in_row(
            field(self.max_per_window), QLabel("per address within"), field(self.window_minutes), stretch=True
        )
        pipe = self.group(
            "Inbound email",
            [
                (
                    "Token",
                    field(
                        token_box,
                        f"Sent as the X-CRM-Token header with each POST to {page.api.base_url}/webhooks/email.",
                    ),
                ),
                ("", self.token_shown),
                ("", field(self.registered_only)),
                ("", field(self.replies_only, "Refused messages stay in the Email log and can be replayed.")),
                ("At most", limit),
            ],
        )

        scroll, _ = scrolled(levels, pipe)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(self.form_buttons())
        self.setEnabled(False)  # until the first answer
        self.update_actions()

    # --- building ------------------------------------------------------------------------------

    def _hours(self) -> str:
        return f"{self.opens.time().toString('HH:mm')}-{self.closes.time().toString('HH:mm')}"

    def _days(self) -> str:
        return format_days({i + 1 for i, box in enumerate(self.days) if box.isChecked()})

    def _put_days(self, value: Any) -> None:
        chosen = parse_days(str(value))
        for i, box in enumerate(self.days):
            box.setChecked(i + 1 in chosen)

    def _put_hours(self, value: Any) -> None:
        start, _, end = str(value).replace(" ", "").partition("-")
        self.opens.setTime(QTime.fromString(start, "HH:mm"))
        self.closes.setTime(QTime.fromString(end, "HH:mm"))

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.page.load(admin_api.get_settings(self.page.api), lambda answer: self.show_values(answer.values))

    def form_filled(self, values: dict[str, Any]) -> None:
        self._show_token_state(bool(values.get(TOKEN_KEY)))

    def _show_token_state(self, is_set: bool) -> None:
        if is_set:
            self.token_state.setText("● Set: the email webhook accepts messages")
            self.token_state.setStyleSheet(f"color: {tone('success')};")
        else:
            self.token_state.setText("● Not set: the email webhook is off")
            self.token_state.setStyleSheet(f"color: {tone('muted')};")
        editable = self.can_edit()
        self.generate_button.setEnabled(editable)
        self.off_button.setEnabled(editable and is_set)

    # --- editing -------------------------------------------------------------------------------

    def check(self, changes: dict[str, Any]) -> bool:
        """What the server stores as free text but reads as hours, days and a zone: refuse nonsense here,
        where the admin can still fix it (the server would fall back to its defaults quietly)."""
        if "tickets.business_hours" in changes and self.opens.time() >= self.closes.time():
            mark_field(self.inputs["tickets.business_hours"].widget, "The desk must open before it closes.")
            return False
        if "tickets.business_days" in changes and not changes["tickets.business_days"]:
            mark_field(self.inputs["tickets.business_days"].widget, "Pick at least one business day.")
            return False
        if "tickets.time_zone" in changes and self.zones and changes["tickets.time_zone"] not in self.zones:
            mark_field(self.time_zone, "Pick a time zone from the list, e.g. Europe/Bucharest.")
            return False
        return True

    # --- the token -----------------------------------------------------------------------------

    def ask_generate(self) -> None:
        if not self.stored.get(TOKEN_KEY):
            self.generate()
            return
        confirm(
            self,
            "Replace the token?",
            "The mail provider keeps sending the old token until IT pastes the "
            "new one there; until then its messages are refused (and kept in the Email log).",
            "Generate a new token",
            self.generate,
        )

    def generate(self) -> None:
        """A fresh random token, saved at once and shown this one time."""
        token = secrets.token_urlsafe(32)

        def saved(result: SettingsOut) -> None:
            self.stored[TOKEN_KEY] = result.values.get(TOKEN_KEY)
            self._show_token_state(bool(self.stored[TOKEN_KEY]))
            self.new_token.setText(token)
            self.token_shown.setVisible(True)
            self.new_token.setFocus()
            self.new_token.selectAll()
            self.page.say("New token saved. Copy it into the mail provider now: it is shown only this once.")

        self.save_now({TOKEN_KEY: token}, self.generate_button, saved)

    def ask_turn_off(self) -> None:
        def off() -> None:
            def saved(result: SettingsOut) -> None:
                self.stored[TOKEN_KEY] = result.values.get(TOKEN_KEY)
                self._show_token_state(False)
                self.forget_shown_token()
                self.page.say("The email webhook is off; messages sent to it are refused.")

            self.save_now({TOKEN_KEY: ""}, self.off_button, saved)

        confirm(
            self,
            "Turn the email webhook off?",
            "Messages the mail provider sends from now on are refused until a new token is generated.",
            "Turn off",
            off,
        )

    def copy_token(self) -> None:
        QGuiApplication.clipboard().setText(self.new_token.text())
        self.page.say("The token is on the clipboard.")

    def forget_shown_token(self) -> None:
        self.new_token.clear()
        self.token_shown.setVisible(False)


# --- the page --------------------------------------------------------------------------------------


class SupportPage(AdminPage):
    """Categories on the left; service levels and the email pipe on the right."""

    title = "Support"
    areas = CATEGORIES | SETTINGS | TEAMS
    live_entities = frozenset({"settings", "team"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.categories = CategoryList(self)
        self.settings = SupportSettings(self)
        columns = Columns((self.categories, 2), (self.settings, 3))  # one above the other on a small screen
        self.root.addWidget(
            title_label(
                "Support",
                "Where tickets of each category go, how fast they must be answered, and what the inbound "
                "email pipe accepts.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(columns, 1)
        # One reload of each half however many announcements come together; deferred, so our own
        # save's announcement lands after its success callback has shown the saved values.
        self._categories_soon = QTimer(self)
        self._categories_soon.setSingleShot(True)
        self._categories_soon.setInterval(0)
        self._categories_soon.timeout.connect(self.categories.reload)
        self._settings_soon = QTimer(self)
        self._settings_soon.setSingleShot(True)
        self._settings_soon.setInterval(0)
        self._settings_soon.timeout.connect(self._reload_settings)

    def reload(self) -> None:
        self.categories.reload()
        self._reload_settings()

    def _reload_settings(self) -> None:
        """Fresh settings, unless that would throw away the admin's unsaved edits."""
        if not self.settings.keep_edits():
            self.settings.reload()

    def on_changed(self, areas: frozenset[str]) -> None:
        if not self.loaded:
            return
        if areas & (CATEGORIES | TEAMS):
            self._categories_soon.start()
        if areas & SETTINGS:
            self._settings_soon.start()

    def on_live_event(self, event: Event) -> None:
        if not self.loaded:
            return
        if event.entity in ("ticket_category", "team"):
            self._categories_soon.start()
        elif event.entity == "settings":
            self._settings_soon.start()

    def is_busy(self) -> bool:
        return super().is_busy() or self._categories_soon.isActive() or self._settings_soon.isActive()

    def hideEvent(self, event: Any) -> None:
        """A token is shown once: going to another page forgets it (minimizing the window does not)."""
        if not event.spontaneous():
            self.settings.forget_shown_token()
        super().hideEvent(event)

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-support", lambda: None)]
