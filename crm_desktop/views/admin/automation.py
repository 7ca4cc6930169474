"""Automation rules: "when this happens to a record, and these conditions hold, do that". The page
lists the rules (Add, Edit, Turn on/off, Test on a record) and the run log of the selected rule:
every evaluation, each condition's result and the actions done, so "why didn't it fire" has an
answer. A rule fires once on the change (old to new); its actions run right after, as a job.

The dialog builds one level of conditions (all / any of them); nested groups come through the API.
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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api import automation
from crm_desktop.api import leads as leads_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, ScreenshotState, can, field, in_row, title_label
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_server.contract.auth import Me
from crm_server.contract.automation import ENTITIES, Condition, RuleOut, RunOut

TRIGGERS = {
    "created": "Is created",
    "status_changed": "Status changes",
    "field_changed": "A field changes",
    "date_reached": "A date is reached",
    "inbound": "Comes in (web form, integration, e-mail)",
}
OPS = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "gt": "is more than",
    "lt": "is less than",
    "empty": "is empty",
    "not_empty": "is not empty",
}
ACTIONS = {
    "create_follow_up": "Create a follow-up",
    "notify": "Notify someone",
    "assign": "Assign",
    "set_field": "Set a field",
    "add_tag": "Add a tag",
    "remove_tag": "Remove a tag",
    "create_ticket": "Create a ticket",
    "call_webhook": "Call a webhook",
}
UNITS = {"minutes": 1, "hours": 60, "days": 1440}
RELATIVE = {"": "the change", "next_meeting": "the next meeting", "expected_close_date": "the expected close date"}
OUTCOMES = {
    "not_matched": "Conditions not met",
    "queued": "Waiting to run",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "stopped": "Stopped",
    "would_run": "Would run",
}


def _combo(name: str, choices: dict[str, str], editable: bool = False) -> QComboBox:
    box = QComboBox()
    box.setAccessibleName(name)
    box.setEditable(editable)
    for key, text in choices.items():
        box.addItem(text, key)
    return box


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


def _offset_parts(minutes: int) -> tuple[int, str, bool]:
    """-1440 -> (1, "days", before)."""
    size = abs(minutes)
    for unit in ("days", "hours"):
        if size and size % UNITS[unit] == 0:
            return size // UNITS[unit], unit, minutes < 0
    return size, "minutes", minutes < 0


def action_words(action: dict[str, Any]) -> str:
    kind = action.get("kind", "")
    words = ACTIONS.get(kind, kind)
    if kind == "create_follow_up":
        amount, unit, before = _offset_parts(int(action.get("offset_minutes") or 0))
        unit = unit[:-1] if amount == 1 else unit
        when = f"{amount} {unit} {'before' if before else 'after'}" if amount else "at"
        return f'{words} "{action.get("title")}" {when} {RELATIVE.get(action.get("relative_to") or "", "the date")}'
    if kind in ("add_tag", "remove_tag"):
        return f'{words} "{action.get("tag")}"'
    if kind == "set_field":
        return f"{words}: {action.get('field')} = {action.get('value')}"
    if kind in ("notify", "create_ticket"):
        return f'{words}: "{action.get("title")}"'
    return words


def rule_words(rule: RuleOut) -> str:
    trigger = rule.trigger
    when = TRIGGERS.get(trigger.kind.value, trigger.kind.value)
    if trigger.to_value:
        when += f" to {trigger.to_value}"
    state = "" if rule.active else "  (off)"
    return f"{rule.name} — {ENTITIES[rule.entity]}: {when}{state}"


class ActionDialog(QDialog):
    """One action: what to do, and the details that kind needs (the others are greyed out)."""

    def __init__(self, parent: QWidget, users: list[tuple[int, str]], teams: list[tuple[int, str]]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add an action")
        self.setObjectName("automationActionDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.kind = _combo("Action", ACTIONS)
        self.title = QLineEdit()
        self.title.setAccessibleName("Title")
        self.title.setPlaceholderText("e.g. Prepare for Demo")
        self.follow_up_kind = _combo("Follow-up kind", {k: format.label(k) for k in ("call", "email", "meeting")})
        self.amount = QSpinBox()
        self.amount.setAccessibleName("How long")
        self.amount.setRange(0, 365 * 24 * 60)
        self.unit = _combo("Unit", {k: k for k in UNITS})
        self.direction = _combo("Before or after", {"before": "before", "after": "after"})
        self.relative = _combo("Counted from", RELATIVE)
        self.user = _combo("Person", {"": "The record's owner", **{str(i): n for i, n in users}})
        self.team = _combo("Team", {"": "—", **{str(i): n for i, n in teams}})
        self.field_name = QLineEdit()
        self.field_name.setAccessibleName("Field")
        self.value = QLineEdit()
        self.value.setAccessibleName("Value")
        self.tag = QLineEdit()
        self.tag.setAccessibleName("Tag")
        form = QFormLayout()
        form.addRow("&Do", self.kind)
        form.addRow("&Title", field(self.title))
        form.addRow("Follow-up &kind", self.follow_up_kind)
        form.addRow("&When", in_row(self.amount, self.unit, self.direction, self.relative, stretch=True))
        form.addRow("&Person", self.user)
        form.addRow("T&eam", self.team)
        form.addRow("&Field", in_row(self.field_name, QLabel("="), self.value, grow=self.value))
        form.addRow("Ta&g", self.tag)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.kind.currentIndexChanged.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        kind = _key(self.kind)
        self.title.setEnabled(kind in ("create_follow_up", "notify", "create_ticket"))
        for widget in (self.follow_up_kind, self.amount, self.unit, self.direction, self.relative):
            widget.setEnabled(kind == "create_follow_up")
        self.user.setEnabled(kind in ("create_follow_up", "assign", "notify"))
        self.team.setEnabled(kind == "assign")
        self.field_name.setEnabled(kind == "set_field")
        self.value.setEnabled(kind == "set_field")
        self.tag.setEnabled(kind in ("add_tag", "remove_tag"))

    def action(self) -> dict[str, Any]:
        kind = _key(self.kind)
        out: dict[str, Any] = {"kind": kind}
        if kind in ("create_follow_up", "notify", "create_ticket"):
            out["title"] = self.title.text().strip()
        if kind == "create_follow_up":
            minutes = self.amount.value() * UNITS[_key(self.unit)]
            out["offset_minutes"] = -minutes if _key(self.direction) == "before" else minutes
            out["follow_up_kind"] = _key(self.follow_up_kind)
            out["relative_to"] = _key(self.relative) or None
        user = _key(self.user)
        if kind in ("create_follow_up", "assign") and user:
            out["user_id"] = int(user)
        if kind == "notify" and user:
            out["user_ids"] = [int(user)]
        if kind == "assign" and _key(self.team):
            out["team_id"] = int(_key(self.team))
        if kind == "set_field":
            out["field"], out["value"] = self.field_name.text().strip(), self.value.text()
        if kind in ("add_tag", "remove_tag"):
            out["tag"] = self.tag.text().strip()
        return out


class RuleDialog(QDialog):
    """A rule: its record, trigger, conditions (all / any) and actions."""

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
        self.setMinimumWidth(680)
        self.name = QLineEdit(rule.name if rule else "")
        self.name.setAccessibleName("Name")
        self.name.setMaxLength(200)
        self.entity = _combo("Record", dict(ENTITIES))
        self.trigger = _combo("When", TRIGGERS)
        self.trigger_field = QLineEdit()
        self.trigger_field.setAccessibleName("Field")
        self.trigger_field.setPlaceholderText("e.g. territory, expected_close_date")
        self.from_value = QLineEdit()
        self.from_value.setAccessibleName("From")
        self.to_value = _combo("To", {"": ""} | {s: s for s in page.statuses}, editable=True)
        self.offset = QSpinBox()
        self.offset.setAccessibleName("Minutes from the date")
        self.offset.setRange(-525_600, 525_600)
        self.match = _combo("Match", {"all": "All of these", "any": "Any of these"})
        self.conditions = QTableWidget(0, 3)
        self.conditions.setAccessibleName("Conditions")
        self.conditions.setHorizontalHeaderLabels(["Field", "Is", "Value"])
        self.conditions.horizontalHeader().setStretchLastSection(True)
        self.conditions.setMinimumHeight(110)
        self.add_condition = QPushButton("Add condition")
        self.add_condition.clicked.connect(lambda: self._condition_row({}))
        self.remove_condition = QPushButton("Remove condition")
        self.remove_condition.clicked.connect(lambda: self.conditions.removeRow(self.conditions.currentRow()))
        self.chosen: list[dict[str, Any]] = []
        self.action_list = QListWidget()
        self.action_list.setAccessibleName("Actions")
        self.action_list.setMinimumHeight(80)
        self.add_action = QPushButton("Add action…")
        self.add_action.clicked.connect(self._new_action)
        self.remove_action = QPushButton("Remove action")
        self.remove_action.clicked.connect(self._drop_action)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow("&Record", self.entity)
        form.addRow("&When it", self.trigger)
        form.addRow("Fiel&d", field(self.trigger_field, "For “a field changes” and “a date is reached”."))
        form.addRow("F&rom", self.from_value)
        form.addRow("&To", self.to_value)
        form.addRow("&Minutes", field(self.offset, "For a date: negative is before it (−1440: a day before)."))
        form.addRow("&Conditions", self.match)
        form.addRow("", self.conditions)
        form.addRow("", in_row(self.add_condition, self.remove_condition, stretch=True))
        form.addRow("&Actions", self.action_list)
        form.addRow("", in_row(self.add_action, self.remove_action, stretch=True))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
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
            self.trigger_field.setText(rule.trigger.field or "")
            self.from_value.setText(rule.trigger.from_value or "")
            _choose(self.to_value, rule.trigger.to_value or "")
            self.offset.setValue(rule.trigger.offset_minutes)
            _choose(self.match, rule.conditions.match)
            for item in rule.conditions.items:
                if isinstance(item, Condition):
                    self._condition_row(item.model_dump())
            for action in rule.actions:
                self._add(action.model_dump(mode="json", exclude_defaults=True) | {"kind": action.kind.value})

    def _condition_row(self, values: dict[str, Any]) -> None:
        row = self.conditions.rowCount()
        self.conditions.insertRow(row)
        self.conditions.setItem(row, 0, QTableWidgetItem(str(values.get("field", ""))))
        op = _combo("Comparison", OPS)
        _choose(op, values.get("op", "eq"))
        self.conditions.setCellWidget(row, 1, op)
        value = values.get("value")
        self.conditions.setItem(row, 2, QTableWidgetItem("" if value is None else str(value)))

    def _add(self, action: dict[str, Any]) -> None:
        self.chosen.append(action)
        self.action_list.addItem(action_words(action))

    def _new_action(self) -> None:
        dialog = ActionDialog(self, self.page.users, self.page.teams)
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
        if kind in ("field_changed", "date_reached", "status_changed") and self.trigger_field.text().strip():
            trigger["field"] = self.trigger_field.text().strip()
        if self.from_value.text().strip():
            trigger["from_value"] = self.from_value.text().strip()
        if _key(self.to_value):
            trigger["to_value"] = _key(self.to_value)
        if kind == "date_reached":
            trigger["offset_minutes"] = self.offset.value()
        items = []
        for row in range(self.conditions.rowCount()):
            name = (self.conditions.item(row, 0) or QTableWidgetItem()).text().strip()
            op = self.conditions.cellWidget(row, 1)
            value = (self.conditions.item(row, 2) or QTableWidgetItem()).text()
            if name and isinstance(op, QComboBox):
                items.append({"field": name, "op": _key(op), "value": value or None})
        return {
            "name": self.name.text().strip(),
            "entity": _key(self.entity),
            "trigger": trigger,
            "conditions": {"match": _key(self.match), "items": items},
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
        self.users: list[tuple[int, str]] = []
        self.teams: list[tuple[int, str]] = []
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
        self.outcome = _combo("Show runs", {"": "All runs", **{k: v for k, v in OUTCOMES.items() if k != "would_run"}})
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

    def reload(self) -> None:
        async def everything() -> tuple[list[RuleOut], list[str], list[tuple[int, str]], list[tuple[int, str]]]:
            rules = await automation.list_rules(self.api)
            pipelines = await leads_api.pipelines(self.api)
            users = await admin_api.list_users(self.api, 0, 200)
            teams = await admin_api.list_teams(self.api)
            statuses = list(dict.fromkeys(s.name for p in pipelines for s in p.statuses))
            return (
                rules,
                statuses,
                [(u.id, u.full_name) for u in users.items if u.active],
                [(t.id, t.name) for t in teams],
            )

        self.load(everything(), self._arrived)

    def _arrived(self, data: tuple[list[RuleOut], list[str], list[tuple[int, str]], list[tuple[int, str]]]) -> None:
        rules, self.statuses, self.users, self.teams = data
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
        edit = can(self.me, "edit")
        self.add_button.setEnabled(edit)
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
        if can(self.me, "edit"):
            RuleDialog(self, "New rule").open()

    def edit(self) -> None:
        rule = self.current()
        if rule is not None and can(self.me, "edit"):
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

        return [("admin-automation", lambda: None), ("admin-automation-rule", rule_dialog)]
