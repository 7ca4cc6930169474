"""The rule editor's "Add an action" dialog and an action in words. Each kind shows only the details
it needs; fields, people, teams and templates are chosen from lists, never typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget

from crm_desktop import format
from crm_desktop.views.admin.automation_conditions import choose, combo, field_words, key_of
from crm_desktop.views.admin.common import field as form_field
from crm_desktop.views.admin.common import in_row
from crm_server.contract.automation import EMAIL_ENTITIES, WHATSAPP_ENTITIES, FieldOut

ACTIONS = {
    "create_follow_up": "Create a follow-up",
    "notify": "Notify someone",
    "assign": "Assign",
    "set_field": "Set a field",
    "add_tag": "Add a tag",
    "remove_tag": "Remove a tag",
    "create_ticket": "Create a ticket",
    "send_email": "Send a template e-mail",
    "send_whatsapp": "Send a WhatsApp template",
    "call_webhook": "Call a webhook",
}
UNITS = {"minutes": 1, "hours": 60, "days": 1440}
RELATIVE = {"": "the change", "next_meeting": "the next meeting", "expected_close_date": "the expected close date"}


def offset_parts(minutes: int) -> tuple[int, str, bool]:
    """-1440 -> (1, "days", before)."""
    size = abs(minutes)
    for unit in ("days", "hours"):
        if size and size % UNITS[unit] == 0:
            return size // UNITS[unit], unit, minutes < 0
    return size, "minutes", minutes < 0


def offset_words(minutes: int) -> str:
    """-1440 -> "1 day before"; 0 -> "at"."""
    amount, unit, before = offset_parts(minutes)
    if not amount:
        return "at"
    return f"{amount} {unit[:-1] if amount == 1 else unit} {'before' if before else 'after'}"


@dataclass
class Choices:
    """What the dialog offers, loaded by the page: people and teams by id, templates by record kind."""

    users: list[tuple[int, str]] = field(default_factory=list)
    teams: list[tuple[int, str]] = field(default_factory=list)
    email_templates: list[tuple[int, str, str]] = field(default_factory=list)  # id, name, record kind
    whatsapp_templates: list[tuple[str, str]] = field(default_factory=list)  # name, language (approved)
    webhooks: bool = True  # a manager's rules call none


def action_words(action: dict[str, Any], choices: Choices | None = None) -> str:
    kind = action.get("kind", "")
    words = ACTIONS.get(kind, kind)
    if kind == "create_follow_up":
        when = offset_words(int(action.get("offset_minutes") or 0))
        return f'{words} "{action.get("title")}" {when} {RELATIVE.get(action.get("relative_to") or "", "the date")}'
    if kind in ("add_tag", "remove_tag"):
        return f'{words} "{action.get("tag")}"'
    if kind == "set_field":
        return f"{words}: {field_words(str(action.get('field')))} = {action.get('value')}"
    if kind in ("notify", "create_ticket"):
        return f'{words}: "{action.get("title")}"'
    if kind == "send_email":
        names = {t[0]: t[1] for t in (choices.email_templates if choices else [])}
        return f'{words}: "{names.get(action.get("template_id") or 0, action.get("template_id"))}"'
    if kind == "send_whatsapp":
        return f'{words}: "{action.get("whatsapp_template")}"'
    return words


class ActionDialog(QDialog):
    """One action: what to do, and the details that kind needs (the others are hidden)."""

    def __init__(self, parent: QWidget, choices: Choices, entity: str, fields: list[FieldOut]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add an action")
        self.setObjectName("automationActionDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        offered = {k: v for k, v in ACTIONS.items() if choices.webhooks or k != "call_webhook"}
        if entity not in EMAIL_ENTITIES:
            offered.pop("send_email")
        if entity not in WHATSAPP_ENTITIES:
            offered.pop("send_whatsapp")
        self.kind = combo("Action", offered, self)
        self.title = QLineEdit(self)
        self.title.setAccessibleName("Title")
        self.title.setPlaceholderText("e.g. Prepare for Demo")
        self.follow_up_kind = combo(
            "Follow-up kind", {k: format.label(k) for k in ("call", "email", "whatsapp", "meeting")}, self
        )
        self.amount = QSpinBox(self)
        self.amount.setAccessibleName("How long")
        self.amount.setRange(0, 365 * 24 * 60)
        self.unit = combo("Unit", {k: k for k in UNITS}, self)
        self.direction = combo("Before or after", {"before": "before", "after": "after"}, self)
        self.relative = combo("Counted from", RELATIVE, self)
        self.user = combo("Person", {"": "The record's owner", **{str(i): n for i, n in choices.users}}, self)
        self.team = combo("Team", {"": "—", **{str(i): n for i, n in choices.teams}}, self)
        settable = {f.name: field_words(f.name) for f in fields if f.settable}
        self.field_name = combo("Field", settable or {"": "No field of this record can be set"}, self)
        self.value = QLineEdit(self)
        self.value.setAccessibleName("Value")
        self.tag = QLineEdit(self)
        self.tag.setAccessibleName("Tag")
        self.email_template = combo(
            "E-mail template", {str(i): n for i, n, kind in choices.email_templates if kind == entity}, self
        )
        self.whatsapp_template = combo(
            "WhatsApp template", {f"{n}|{lang}": f"{n} ({lang})" for n, lang in choices.whatsapp_templates}, self
        )
        if not self.email_template.count():
            self.email_template.setPlaceholderText("No e-mail template for these records yet")
        if not self.whatsapp_template.count():
            self.whatsapp_template.setPlaceholderText("No approved WhatsApp template yet")
        self.form = form = QFormLayout()
        when = in_row(self.amount, self.unit, self.direction, self.relative, stretch=True)
        set_to = in_row(self.field_name, QLabel("=", self), self.value, grow=self.value)
        email = form_field(self.email_template, "Sent as you, to the record's address.")
        chat = form_field(self.whatsapp_template, "Approved templates only; the number must have opted in.")
        form.addRow("&Do", self.kind)
        # Each detail row and the kinds of action it is shown for (the others are hidden).
        self.rows: list[tuple[QWidget, tuple[str, ...]]] = []
        for words, widget, kinds in (
            ("&Title", form_field(self.title), ("create_follow_up", "notify", "create_ticket")),
            ("Follow-up &kind", self.follow_up_kind, ("create_follow_up",)),
            ("&When", when, ("create_follow_up",)),
            ("&Person", self.user, ("create_follow_up", "assign", "notify")),
            ("T&eam", self.team, ("assign",)),
            ("&Field", set_to, ("set_field",)),
            ("Ta&g", self.tag, ("add_tag", "remove_tag")),
            ("E-&mail template", email, ("send_email",)),
            ("&WhatsApp template", chat, ("send_whatsapp",)),
        ):
            form.addRow(words, widget)
            self.rows.append((widget, kinds))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.kind.currentIndexChanged.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        """Only the details this kind of action needs are shown."""
        kind = key_of(self.kind)
        for widget, kinds in self.rows:
            self.form.setRowVisible(widget, kind in kinds)
        self.adjustSize()

    def action(self) -> dict[str, Any]:
        kind = key_of(self.kind)
        out: dict[str, Any] = {"kind": kind}
        if kind in ("create_follow_up", "notify", "create_ticket"):
            out["title"] = self.title.text().strip()
        if kind == "create_follow_up":
            minutes = self.amount.value() * UNITS[key_of(self.unit)]
            out["offset_minutes"] = -minutes if key_of(self.direction) == "before" else minutes
            out["follow_up_kind"] = key_of(self.follow_up_kind)
            out["relative_to"] = key_of(self.relative) or None
        user = key_of(self.user)
        if kind in ("create_follow_up", "assign") and user:
            out["user_id"] = int(user)
        if kind == "notify" and user:
            out["user_ids"] = [int(user)]
        if kind == "assign" and key_of(self.team):
            out["team_id"] = int(key_of(self.team))
        if kind == "set_field":
            out["field"], out["value"] = key_of(self.field_name) or None, self.value.text()
        if kind in ("add_tag", "remove_tag"):
            out["tag"] = self.tag.text().strip()
        if kind == "send_email" and key_of(self.email_template):
            out["template_id"] = int(key_of(self.email_template))
        if kind == "send_whatsapp" and key_of(self.whatsapp_template):
            name, _, language = key_of(self.whatsapp_template).partition("|")
            out["whatsapp_template"], out["language"] = name, language or None
        return out

    def preset(self, kind: str) -> None:
        choose(self.kind, kind)
