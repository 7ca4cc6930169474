"""Automation rules: "when this happens to a record, and these conditions hold, do that". The page
lists the rules (Add, Edit, Turn on/off, Test on a record) and the run log of the selected rule:
every evaluation, each condition's result and the actions done, so "why didn't it fire" has an
answer. A rule fires once on the change (old to new); its actions run right after, as a job.

Admins see every rule; a manager (module "automation", scope team) sees and makes their team's,
which work on their team's records only. The editor picks fields from the record's own (never
typed), nests condition groups (automation_conditions) and says a date offset as "1 day before".
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import auth as auth_api
from crm_desktop.api import automation
from crm_desktop.api import emails as emails_api
from crm_desktop.api import leads as leads_api
from crm_desktop.api import whatsapp as whatsapp_api
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.views.admin.automation_actions import (
    ACTIONS,
    UNITS,
    ActionDialog,
    Choices,
    action_words,
    offset_parts,
    offset_words,
)
from crm_desktop.views.admin.automation_conditions import OPS, ConditionTree, combo, field_words
from crm_desktop.views.admin.common import AdminPage, ScreenshotState, can, field, in_row, title_label
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.auth import Me, Scope
from crm_server.contract.automation import ENTITIES, FieldOut, RuleOut, RunOut

__all__ = ["ActionDialog", "AutomationPage", "RuleDialog", "action_words"]

MODULE = "automation"
TRIGGERS = {
    "created": "Is created",
    "status_changed": "Status changes",
    "field_changed": "A field changes",
    "date_reached": "A date is reached",
    "inbound": "Comes in (web form, integration, e-mail)",
}
OUTCOMES = {
    "not_matched": "Conditions not met",
    "queued": "Waiting to run",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "stopped": "Stopped",
    "would_run": "Would run",
}
# The fields a trigger may watch, by its kind (who made the change is no field of the record).
WATCHABLE = {
    "field_changed": ("text", "number", "date", "moment", "list", "bool", "person", "team"),
    "date_reached": ("date", "moment"),
}


def _key(box: QComboBox) -> str:
    """The chosen key; for an editable box, what was typed when it is not one of the choices."""
    if box.isEditable() and box.currentText() != box.itemText(box.currentIndex()):
        return box.currentText().strip()
    data = box.currentData()
    return str(data) if data is not None else box.currentText().strip()


def _choose(box: QComboBox, key: Any) -> None:
    i = box.findData(key)
    if i >= 0:
        box.setCurrentIndex(i)
    elif box.isEditable() and key is not None:
        box.setEditText(str(key))


def rule_words(rule: RuleOut) -> str:
    trigger = rule.trigger
    when = TRIGGERS.get(trigger.kind.value, trigger.kind.value)
    if trigger.kind.value == "date_reached" and trigger.field:
        when = f"{offset_words(trigger.offset_minutes)} {field_words(trigger.field).lower()}"
    elif trigger.field and trigger.kind.value == "field_changed":
        when = f"{field_words(trigger.field)} changes"
    if trigger.to_value:
        when += f" to {trigger.to_value}"
    state = "" if rule.active else "  (off)"
    return f"{rule.name} — {ENTITIES[rule.entity]}: {when}{state}"


class RuleDialog(QDialog):
    """A rule: its record, trigger, conditions (groups inside groups) and actions."""

    def __init__(
        self,
        page: AutomationPage,
        title: str,
        rule: RuleOut | None = None,
    ) -> None:
        super().__init__(page)
        self.page = page
        self.setWindowTitle(title)
        self.setObjectName("automationRuleDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(720)
        self.name = QLineEdit(rule.name if rule else "", self)
        self.name.setAccessibleName("Name")
        self.name.setMaxLength(200)
        self.entity = combo("Record", dict(ENTITIES), self)
        self.trigger = combo("When", TRIGGERS, self)
        self.trigger_field = combo("Field", {}, self)
        self.from_value = QLineEdit(self)
        self.from_value.setAccessibleName("From")
        self.to_value = combo("To", {"": ""} | {s: s for s in page.statuses}, self)
        self.to_value.setEditable(True)
        self.offset_amount = QSpinBox(self)
        self.offset_amount.setAccessibleName("How long")
        self.offset_amount.setRange(0, 525_600)
        self.offset_unit = combo("Unit", {k: k for k in UNITS}, self)
        self.offset_direction = combo("Before or after", {"before": "before", "after": "after"}, self)
        self.match = combo("Match", {"all": "All of these", "any": "Any of these"}, self)
        self.conditions = ConditionTree(self.match, self)
        self.chosen: list[dict[str, Any]] = []
        self.action_list = QListWidget(self)
        self.action_list.setAccessibleName("Actions")
        self.action_list.setMinimumHeight(80)
        self.add_action = QPushButton("Add action…", self)
        self.add_action.clicked.connect(self._new_action)
        self.remove_action = QPushButton("Remove action", self)
        self.remove_action.clicked.connect(self._drop_action)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow("&Record", self.entity)
        form.addRow("&When it", self.trigger)
        self.trigger_field.setToolTip("The field “a field changes” or “a date is reached” watches")
        self.from_value.setPlaceholderText("any value")
        typed = self.to_value.lineEdit()
        if typed is not None:
            typed.setPlaceholderText("any value")
        self.offset_amount.setToolTip("For a date rule: e.g. 1 day before the date")
        to_label = QLabel("to", self)
        form.addRow("Fiel&d", field(self.trigger_field))
        form.addRow("F&rom", in_row(self.from_value, to_label, self.to_value, grow=self.to_value))
        form.addRow("&Offset", in_row(self.offset_amount, self.offset_unit, self.offset_direction, stretch=True))
        form.addRow("&Conditions", self.match)
        form.addRow("", self.conditions)
        form.addRow("&Actions", self.action_list)
        form.addRow("", in_row(self.add_action, self.remove_action, stretch=True))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.rule = rule
        if rule is not None:
            _choose(self.entity, rule.entity)
            _choose(self.trigger, rule.trigger.kind.value)
        self._entity_changed()
        if rule is not None:
            _choose(self.trigger_field, rule.trigger.field)
            self.from_value.setText(rule.trigger.from_value or "")
            _choose(self.to_value, rule.trigger.to_value or "")
            amount, unit, before = offset_parts(rule.trigger.offset_minutes)
            self.offset_amount.setValue(amount)
            _choose(self.offset_unit, unit)
            _choose(self.offset_direction, "before" if before else "after")
            self.conditions.load(rule.conditions)
            for action in rule.actions:
                self._add(action.model_dump(mode="json", exclude_defaults=True) | {"kind": action.kind.value})
        self.entity.currentIndexChanged.connect(lambda *_: self._entity_changed())
        self.trigger.currentIndexChanged.connect(lambda *_: self._trigger_changed())
        self._trigger_changed()

    def fields_of(self) -> list[FieldOut]:
        return self.page.fields.get(_key(self.entity), [])

    def _entity_changed(self) -> None:
        people = {str(i): n for i, n in self.page.choices.users}
        teams = {str(i): n for i, n in self.page.choices.teams}
        self.conditions.set_choices(self.fields_of(), people, teams)
        self._trigger_changed()

    def _trigger_changed(self) -> None:
        """The field choice holds what this trigger can watch; the rest is greyed out."""
        kind = _key(self.trigger)
        kept = _key(self.trigger_field) if self.trigger_field.count() else None
        kinds = WATCHABLE.get(kind, ())
        self.trigger_field.clear()
        for f in self.fields_of():
            if f.kind in kinds and not f.name.startswith("changed_by"):
                self.trigger_field.addItem(field_words(f.name), f.name)
        _choose(self.trigger_field, kept)
        self.trigger_field.setEnabled(kind in WATCHABLE)
        self.from_value.setEnabled(kind in ("field_changed", "status_changed"))
        self.to_value.setEnabled(kind in ("field_changed", "status_changed"))
        for widget in (self.offset_amount, self.offset_unit, self.offset_direction):
            widget.setEnabled(kind == "date_reached")

    def _add(self, action: dict[str, Any]) -> None:
        self.chosen.append(action)
        self.action_list.addItem(action_words(action, self.page.choices))

    def _new_action(self) -> None:
        dialog = ActionDialog(self, self.page.choices, _key(self.entity), self.fields_of())
        dialog.accepted.connect(lambda: self._add(dialog.action()))
        dialog.open()

    def _drop_action(self) -> None:
        row = self.action_list.currentRow()
        if row >= 0:
            self.action_list.takeItem(row)
            del self.chosen[row]

    def body(self) -> dict[str, Any]:
        kind = _key(self.trigger)
        trigger: dict[str, Any] = {"kind": kind}
        if kind in WATCHABLE and _key(self.trigger_field):
            trigger["field"] = _key(self.trigger_field)
        if self.from_value.isEnabled() and self.from_value.text().strip():
            trigger["from_value"] = self.from_value.text().strip()
        if self.to_value.isEnabled() and _key(self.to_value):
            trigger["to_value"] = _key(self.to_value)
        if kind == "date_reached":
            minutes = self.offset_amount.value() * UNITS[_key(self.offset_unit)]
            trigger["offset_minutes"] = -minutes if _key(self.offset_direction) == "before" else minutes
        return {
            "name": self.name.text().strip(),
            "entity": _key(self.entity),
            "trigger": trigger,
            "conditions": self.conditions.group().model_dump(mode="json"),
            "actions": self.chosen,
            "active": self.rule.active if self.rule else True,
        }

    def fields(self) -> dict[str, QWidget]:
        return {"name": self.name, "trigger.field": self.trigger_field, "actions": self.action_list}

    def submit(self) -> None:
        call = (
            automation.update_rule(self.page.api, self.rule.id, self.body())
            if self.rule
            else automation.create_rule(self.page.api, self.body())
        )

        def saved(rule: RuleOut) -> None:
            self.accept()
            self.page.saved(rule)

        operations.run(self, call, success=saved, changed=automation.CHANGED, fields=self.fields(), busy=self.buttons)


def _run_detail(run: RunOut) -> str:
    parts = [run.detail] if run.detail else []
    parts += [f"{c.field} {OPS.get(c.op, c.op)} {c.expected}: {'yes' if c.passed else 'no'}" for c in run.conditions]
    parts += [f"{ACTIONS.get(a.kind, a.kind)}: {a.detail}" for a in run.actions]
    return "; ".join(parts)


class AutomationPage(AdminPage):
    title = "Automation"
    areas = automation.CHANGED
    live_entities = frozenset({"automation_rule"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.rules: list[RuleOut] = []
        self.statuses: list[str] = []
        self.choices = Choices()
        self.fields: dict[str, list[FieldOut]] = {}
        self.list = QListWidget()
        self.list.setObjectName("automationRules")
        self.list.setAccessibleName("Rules")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.currentRowChanged.connect(lambda *_: self._selected())
        self.list.itemActivated.connect(lambda _: self.edit())
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.add)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self.edit)
        self.active_button = QPushButton("Turn off")
        self.active_button.clicked.connect(self.toggle)
        self.test_button = QPushButton("Test on a record…")
        self.test_button.setToolTip("What the rule would do on a record now, without doing it")
        self.test_button.clicked.connect(self.test)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.active_button, self.test_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.runs_model: PagedTableModel[RunOut] = PagedTableModel(
            [
                Column("When", lambda r: format.moment(r.at)),
                Column("Record", lambda r: f"{ENTITIES.get(r.entity, r.entity)} {r.entity_id}"),
                Column("Outcome", lambda r: OUTCOMES.get(r.outcome, r.outcome)),
                Column("Why and what", _run_detail, tooltip=_run_detail),
            ],
            self._fetch_runs,
            page_size=50,
        )
        self.outcome = combo("Show runs", {"": "All runs", **{k: v for k, v in OUTCOMES.items() if k != "would_run"}})
        self.outcome.setObjectName("automationOutcomeFilter")
        self.outcome.currentIndexChanged.connect(lambda *_: self.runs_model.reload() if self.loaded else None)
        self.runs = PagedTable(self.runs_model, "No runs of this rule yet.", empty_title="No runs")
        self.runs.set_noun("run", "runs")
        self.root.addWidget(
            title_label(
                "Automation",
                "When something happens to a record and the conditions hold, do that: once per change, "
                "right after it is saved. The log says why each rule did or did not run.",
            )
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(self.list, 1)
        self.root.addLayout(buttons)
        log_row = QHBoxLayout()
        log_row.addWidget(QLabel("Run log of the selected rule"))
        log_row.addStretch(1)
        log_row.addWidget(self.outcome)
        self.root.addLayout(log_row)
        self.root.addWidget(self.runs, 2)
        self._selected()

    async def _fetch_runs(self, offset: int, limit: int, after: str | None) -> Any:
        rule = self.current()
        outcome = _key(self.outcome) or None
        return await automation.list_runs(self.api, offset, limit, rule_id=rule.id if rule else None, outcome=outcome)

    def team_only(self) -> int | None:
        """A manager's team (their rules see its records and people only); None for an admin."""
        grant = self.me.permissions.get(MODULE)
        return self.me.team_id if grant is not None and grant.scope != Scope.all else None

    def reload(self) -> None:
        team = self.team_only()

        async def optional(call: Any, empty: Any) -> Any:
            """Templates the role may not list are simply not offered."""
            try:
                return await call
            except ApiError:
                return empty

        async def everything() -> tuple[list[RuleOut], list[str], Choices, dict[str, list[FieldOut]]]:
            rules = await automation.list_rules(self.api)
            fields: dict[str, list[FieldOut]] = {e.entity: e.fields for e in await automation.fields(self.api)}
            pipelines = await leads_api.pipelines(self.api)
            users = await auth_api.colleagues(self.api, active=True, team_id=team, limit=200)
            teams = [t for t in await admin_api.list_teams(self.api) if team is None or t.id == team]
            emails = await optional(emails_api.templates(self.api), [])
            chats = await optional(whatsapp_api.templates(self.api), [])
            statuses = list(dict.fromkeys(s.name for p in pipelines for s in p.statuses))
            choices = Choices(
                users=[(u.id, u.full_name) for u in users.items],
                teams=[(t.id, t.name) for t in teams],
                email_templates=[(t.id, t.name, t.entity.value) for t in emails],
                whatsapp_templates=[(t.name, t.language) for t in chats if t.status == "APPROVED"],
                webhooks=team is None,
            )
            return rules, statuses, choices, fields

        self.load(everything(), self._arrived)

    def _arrived(self, data: tuple[list[RuleOut], list[str], Choices, dict[str, list[FieldOut]]]) -> None:
        rules, self.statuses, self.choices, self.fields = data
        self.show_rules(rules)

    def show_rules(self, rules: list[RuleOut], select: int | None = None) -> None:
        now = self.current()
        keep = select if select is not None else (now.id if now else None)
        self.rules = rules
        self.list.clear()
        for rule in rules:
            item = QListWidgetItem(rule_words(rule))
            item.setData(Qt.ItemDataRole.UserRole, rule.id)
            self.list.addItem(item)
            if rule.id == keep:
                self.list.setCurrentItem(item)
        self._selected()

    def current(self) -> RuleOut | None:
        row = self.list.currentRow()
        return self.rules[row] if 0 <= row < len(self.rules) else None

    def _selected(self) -> None:
        rule = self.current()
        edit = can(self.me, "edit", MODULE)
        self.add_button.setEnabled(can(self.me, "create", MODULE))
        self.edit_button.setEnabled(edit and rule is not None)
        self.active_button.setEnabled(edit and rule is not None)
        self.test_button.setEnabled(rule is not None)
        self.active_button.setText("Turn on" if rule is not None and not rule.active else "Turn off")
        if self.loaded:
            self.runs_model.reload()

    def saved(self, rule: RuleOut, message: str | None = None) -> None:
        rules = [r for r in self.rules if r.id != rule.id] + [rule]
        self.show_rules(sorted(rules, key=lambda r: (r.name, r.id)), select=rule.id)
        self.say(message or f"The rule “{rule.name}” is saved{'' if rule.active else ' (off)'}.")

    def add(self) -> None:
        if can(self.me, "create", MODULE):
            RuleDialog(self, "New rule").open()

    def edit(self) -> None:
        rule = self.current()
        if rule is not None and can(self.me, "edit", MODULE):
            RuleDialog(self, "Edit rule", rule).open()

    def toggle(self) -> None:
        rule = self.current()
        if rule is None:
            return
        on = not rule.active
        operations.run(
            self,
            automation.set_active(self.api, rule.id, on),
            success=lambda r: self.saved(r, f"The rule “{r.name}” is {'on' if on else 'off: it stops at once'}."),
            changed=automation.CHANGED,
            busy=self.active_button,
        )

    def test(self) -> None:
        rule = self.current()
        if rule is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("automationTestDialog")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setIntRange(1, 2**31 - 1)
        dialog.setWindowTitle("Test on a record")
        dialog.setLabelText(f"Number of the {ENTITIES[rule.entity].lower()} to test the rule on:")
        dialog.intValueSelected.connect(lambda value: self._test(rule, value))
        dialog.open()

    def _test(self, rule: RuleOut, entity_id: int) -> None:
        def shown(run: RunOut) -> None:
            verdict = "would run" if run.outcome == "would_run" else "would not run"
            self.say(f"On {ENTITIES[rule.entity].lower()} {entity_id} the rule {verdict}. {_run_detail(run)}")

        operations.run(self, automation.test_rule(self.api, rule.id, entity_id), success=shown)

    def screenshot_states(self) -> list[ScreenshotState]:
        def rule_dialog() -> QWidget | None:
            if not self.rules:
                return None
            self.list.setCurrentRow(0)
            dialog = RuleDialog(self, "Edit rule", self.rules[0])
            dialog.open()
            return dialog

        def nested() -> QWidget | None:
            """A new rule with a group inside the top one, as a person would build it."""
            dialog = RuleDialog(self, "New rule")
            dialog.name.setText("Big referrals closing soon")
            _choose(dialog.trigger, "date_reached")
            _choose(dialog.trigger_field, "expected_close_date")
            dialog.offset_amount.setValue(1)
            _choose(dialog.offset_unit, "days")
            tree = dialog.conditions
            tree.new_condition(None, {"field": "source", "op": "eq", "value": "Referral"})
            group = tree.new_group(None, "any")
            tree.new_condition(group, {"field": "value", "op": "gt", "value": 10000})
            tree.new_condition(group, {"field": "tags", "op": "contains", "value": "vip"})
            dialog._add({"kind": "create_follow_up", "title": "Call before it closes", "offset_minutes": -1440})
            dialog.open()
            return dialog

        def action() -> QWidget | None:
            dialog = ActionDialog(self, self.choices, "lead", self.fields.get("lead", []))
            _choose(dialog.kind, "send_email")
            dialog.open()
            return dialog

        return [
            ("admin-automation", lambda: None),
            ("admin-automation-rule", rule_dialog),
            ("admin-automation-nested", nested),
            ("admin-automation-action", action),
        ]
