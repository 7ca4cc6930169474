"""Assignment rules: who gets a new lead that nobody owns. Rules are tried from the top and the
first match wins, so their order is the policy; the page says so, and says what happens when no
rule matches (round-robin in the fallback team setting, else the creator keeps it, else it stays
unassigned), exactly as crm_server/leads/assignment.py and leads/service.py do it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.views.admin.common import (
    AdminPage,
    ScreenshotState,
    UserNames,
    can,
    confirm,
    field,
    set_danger,
    title_label,
)
from crm_desktop.views.admin.sales_lists import OrderedList, failed
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.admin import SettingsOut
from crm_server.contract.auth import Me, TeamOut
from crm_server.contract.leads import AssignmentRuleOut, NamedItemOut

RULES = admin_api.RULES
SETTINGS = admin_api.SETTINGS
FALLBACK_KEY = "leads.default_team_id"
HOW = (
    "Rules are tried from the top: the first matching rule that can give the lead to someone active "
    "wins, and an empty criterion matches any lead. When no rule takes a new lead without an owner, it is "
    "shared round-robin in the fallback team below; failing that, the person who typed it in keeps it, "
    "and leads from outside systems (web forms, Facebook) stay unassigned for a manager to hand out. "
    "Salespeople who see only their own leads keep the leads they create. Deactivated users never "
    "receive leads; round-robin also skips members whose role cannot edit leads."
)


class Loaded(NamedTuple):
    """What the page reads at once: the rules and what they are described with."""

    rules: list[AssignmentRuleOut]
    teams: list[TeamOut]
    sources: list[NamedItemOut]
    settings: SettingsOut


class RuleDialog(QDialog):
    """Add or edit one rule: what a lead must match, then a person or a team's round-robin."""

    def __init__(
        self,
        parent: QWidget,
        api: ApiClient,
        rule: AssignmentRuleOut | None,
        sources: list[str],
        teams: dict[int, str],
        user_label: str,
        submit: Callable[[RuleDialog], None],
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit rule" if rule else "New rule")
        self.setObjectName("ruleDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.rule = rule
        self.name = QLineEdit(rule.name if rule else "")
        self.name.setMinimumWidth(340)
        self.name.setAccessibleName("Rule name")
        self.active = QCheckBox("Active (inactive rules are skipped)")
        self.active.setChecked(rule.active if rule else True)
        self.source = QComboBox()
        self.source.setAccessibleName("Source")
        self.source.addItem("Any source", None)
        for name in sources:
            self.source.addItem(name, name)
        if rule and rule.source and self.source.findData(rule.source) < 0:
            self.source.addItem(f"{rule.source} (no longer offered)", rule.source)
        self.source.setCurrentIndex(max(self.source.findData(rule.source if rule else None), 0))
        self.territory = QLineEdit(rule.territory or "" if rule else "")
        self.territory.setPlaceholderText("Any territory")
        self.territory.setAccessibleName("Territory")
        self.product = QLineEdit(rule.product_interest or "" if rule else "")
        self.product.setPlaceholderText("Any product")
        self.product.setAccessibleName("Product interest")

        self.to_user = QRadioButton("A &person")
        self.to_team = QRadioButton("Round-robin in a &team")
        group = QButtonGroup(self)
        group.addButton(self.to_user)
        group.addButton(self.to_team)
        self.user = UserPicker(api, active_only=True, parent=self)
        self.user.setAccessibleName("Person")
        self.team = QComboBox()
        self.team.setAccessibleName("Team")
        self.team.addItem("Choose a team…", None)
        for team_id, team_name in sorted(teams.items(), key=lambda t: t[1].lower()):
            self.team.addItem(team_name, team_id)
        if rule and rule.team_id is not None:
            self.to_team.setChecked(True)
            self.team.setCurrentIndex(max(self.team.findData(rule.team_id), 0))
        else:
            self.to_user.setChecked(True)
            if rule and rule.user_id is not None:
                self.user.set_user(rule.user_id, user_label)
        self.to_user.toggled.connect(self._target_changed)
        self._target_changed()

        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("&Name", field(self.name))
        form.addRow("", self.active)
        section = QLabel("A NEW LEAD MATCHES WHEN")
        section.setProperty("role", "section")
        form.addRow(section)
        form.addRow("&Source", field(self.source))
        form.addRow("Te&rritory", field(self.territory))
        form.addRow("Product &interest", field(self.product, "Compared without regard to case; empty matches any."))
        section = QLabel("IT GOES TO")
        section.setProperty("role", "section")
        form.addRow(section)
        form.addRow(self.to_user, field(self.user))
        form.addRow(self.to_team, field(self.team, "Shared in turn among the team's active members."))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def _target_changed(self, *_: Any) -> None:
        self.user.setEnabled(self.to_user.isChecked())
        self.team.setEnabled(self.to_team.isChecked())

    def body(self) -> dict[str, Any] | None:
        """The rule as the server takes it, or None after marking what is missing."""
        if self.to_user.isChecked() and self.user.value() is None:
            mark_field(self.user, "Choose a person from the suggestions.")
            return None
        if self.to_team.isChecked() and self.team.currentData() is None:
            mark_field(self.team, "Choose a team.")
            return None
        return {
            "name": self.name.text().strip(),
            "active": self.active.isChecked(),
            "source": self.source.currentData(),
            "territory": self.territory.text().strip() or None,
            "product_interest": self.product.text().strip() or None,
            "user_id": self.user.value() if self.to_user.isChecked() else None,
            "team_id": self.team.currentData() if self.to_team.isChecked() else None,
        }

    def fields(self) -> dict[str, QWidget]:
        return {
            "name": self.name,
            "source": self.source,
            "territory": self.territory,
            "product_interest": self.product,
            "user_id": self.user,
            "team_id": self.team,
        }


class AssignmentPage(AdminPage):
    """The ordered rules, the fallback team, and what happens to a lead no rule takes."""

    title = "Assignment rules"
    areas = RULES | SETTINGS | frozenset({"admin.teams", "admin.lead_source"})
    live_entities = frozenset({"assignment_rule", "lead_source", "team", "user", "settings"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.rules: dict[int, AssignmentRuleOut] = {}
        self.teams: dict[int, str] = {}
        self.sources: list[str] = []
        self.fallback_team: int = 0
        self.names = UserNames(api)

        self.new_button = QPushButton("New rule")
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip("New rule (Ctrl+N)")
        self.new_button.clicked.connect(self.new_rule)
        how = QLabel(HOW)
        how.setObjectName("assignmentHow")
        how.setWordWrap(True)
        how.setProperty("role", "muted")
        self.list = OrderedList("ruleList", "Assignment rules, first match wins")
        self.list.reordered.connect(self._reordered)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.itemActivated.connect(lambda _: self.edit_rule())
        self.empty = QLabel(
            "No rules yet: every new lead without an owner goes to the fallback below. "
            "Add one with “New rule” (Ctrl+N)."
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setProperty("role", "muted")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Edit the selected rule (F2 or Enter)")
        self.edit_button.clicked.connect(self.edit_rule)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Try earlier (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.list.move_current(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Try later (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.list.move_current(1))
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected rule (Del)")
        self.delete_button.clicked.connect(self.delete_rule)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        for button in (self.up_button, self.down_button, self.delete_button):
            buttons.addWidget(button)
        self.fallback = QComboBox()
        self.fallback.setAccessibleName("Fallback team")
        self.fallback.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.fallback.activated.connect(self._fallback_chosen)
        fallback_row = QHBoxLayout()
        fallback_label = QLabel("When no rule matches, share round-robin in &team")
        fallback_label.setBuddy(self.fallback)
        fallback_row.addWidget(fallback_label)
        fallback_row.addWidget(self.fallback)
        fallback_row.addStretch(1)

        self.root.addWidget(
            title_label(
                "Assignment rules",
                "Who gets a new lead that nobody owns. The first matching rule wins.",
                self.new_button,
            )
        )
        self.root.addWidget(how)
        self.root.addWidget(self.notice)
        self.root.addWidget(self.list, 1)
        self.root.addWidget(self.empty, 1)
        self.root.addLayout(buttons)
        self.root.addLayout(fallback_row)

        self.shortcut(QKeySequence.StandardKey.New, self.new_rule)
        self.shortcut(QKeySequence(Qt.Key.Key_F2), self.edit_rule, widget=self.list)
        self.shortcut(QKeySequence(Qt.Key.Key_Delete), self.delete_rule, widget=self.list)
        self._update_actions()

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(self._fetch(), self._arrived)

    async def _fetch(self) -> Loaded:
        rules, teams, sources, settings = await asyncio.gather(
            admin_api.assignment_rules(self.api),
            admin_api.list_teams(self.api),
            admin_api.list_items(self.api, "lead-sources", include_inactive=False),
            admin_api.get_settings(self.api),
        )
        await self.names.ensure(r.user_id for r in rules)
        return Loaded(rules, teams, sources, settings)

    def _arrived(self, data: Loaded, select: int | None = None) -> None:
        self.teams = {t.id: t.name for t in data.teams}
        self.sources = [s.name for s in data.sources]
        self.fallback_team = int(data.settings.values.get(FALLBACK_KEY) or 0)
        self._show_rules(data.rules, select)
        self.fallback.blockSignals(True)
        self.fallback.clear()
        self.fallback.addItem("No team: leave the lead unassigned", 0)
        for team_id, name in sorted(self.teams.items(), key=lambda t: t[1].lower()):
            self.fallback.addItem(name, team_id)
        self.fallback.setCurrentIndex(max(self.fallback.findData(self.fallback_team), 0))
        self.fallback.blockSignals(False)
        self._update_actions()

    def _show_rules(self, rules: list[AssignmentRuleOut], select: int | None = None) -> None:
        self.rules = {r.id: r for r in rules}
        self.list.fill([(r.id, self.describe(n, r)) for n, r in enumerate(rules, 1)], select)
        self.empty.setVisible(not rules)
        self.list.setVisible(bool(rules))

    def describe(self, number: int, rule: AssignmentRuleOut) -> str:
        """ "2. Facebook leads (inactive)\\nSource Facebook · any territory · any product → Ana North"."""
        when = [
            f"Source {rule.source}" if rule.source else "Any source",
            f"territory {rule.territory}" if rule.territory else "any territory",
            f"product {rule.product_interest}" if rule.product_interest else "any product",
        ]
        if rule.user_id is not None:
            to = self.names.name(rule.user_id)
        else:
            team = self.teams.get(rule.team_id) if rule.team_id is not None else None
            to = f"round-robin in {team or 'a deleted team'}"
        head = f"{number}. {rule.name}" + ("" if rule.active else "  (inactive)")
        return f"{head}\n{' · '.join(when)} → {to}"

    def current(self) -> AssignmentRuleOut | None:
        rule_id = self.list.current_id()
        return None if rule_id is None else self.rules.get(rule_id)

    def _update_actions(self) -> None:
        rule, edit = self.current(), can(self.me, "edit")
        self.new_button.setEnabled(edit)
        self.edit_button.setEnabled(edit and rule is not None)
        row, count = self.list.currentRow(), self.list.count()
        self.up_button.setEnabled(edit and rule is not None and row > 0)
        self.down_button.setEnabled(edit and rule is not None and row < count - 1)
        set_danger(self.delete_button, edit and rule is not None)
        self.fallback.setEnabled(edit)
        self.list.movable = edit
        self.list.setDragEnabled(edit)

    # --- changes -------------------------------------------------------------------------------

    def _open_dialog(self, rule: AssignmentRuleOut | None) -> RuleDialog:
        def submit(dialog: RuleDialog) -> None:
            body = dialog.body()
            if body is None:
                return
            if rule is None:
                call = admin_api.create_rule(self.api, body)
            else:
                call = admin_api.update_rule(self.api, rule.id, {**body, "version": rule.version})

            def saved(result: AssignmentRuleOut) -> None:
                dialog.accept()
                if result.user_id is not None:
                    self.names.remember(result.user_id, dialog.user.text().split(" <")[0])
                self.rules[result.id] = result
                ordered = sorted(self.rules.values(), key=lambda r: (r.position, r.id))
                self._show_rules(ordered, result.id)
                self._update_actions()
                self.say(f"The rule {result.name} is {'added' if rule is None else 'saved'}.")

            operations.run(
                dialog,
                call,
                success=saved,
                changed=RULES,
                fields=dialog.fields(),
                reload=self.reload,
                busy=dialog.buttons,
            )

        label = self.names.name(rule.user_id) if rule and rule.user_id is not None else ""
        dialog = RuleDialog(self, self.api, rule, self.sources, self.teams, label, submit)
        dialog.open()
        return dialog

    def new_rule(self) -> None:
        if can(self.me, "edit"):
            self._open_dialog(None)

    def edit_rule(self) -> None:
        rule = self.current()
        if rule is not None and can(self.me, "edit"):
            self._open_dialog(rule)

    def delete_rule(self) -> None:
        rule = self.current()
        if rule is None or not self.delete_button.isEnabled():
            return

        def delete() -> None:
            def deleted(_: object) -> None:
                self.rules.pop(rule.id, None)
                ordered = sorted(self.rules.values(), key=lambda r: (r.position, r.id))
                self._show_rules(ordered)
                self._update_actions()
                self.say(f"The rule {rule.name} is deleted.")

            operations.run(self, admin_api.delete_rule(self.api, rule.id), success=deleted, changed=RULES)

        confirm(
            self,
            "Delete rule",
            f"Delete the rule {rule.name}? Leads it assigned keep their owner.",
            "Delete",
            delete,
        )

    def _reordered(self, ids: list[int], moved: int) -> None:
        def saved(rules: list[AssignmentRuleOut]) -> None:
            self._show_rules(rules, moved)
            self._update_actions()
            self.say(f"The rule {self.rules[moved].name} is now tried as number {ids.index(moved) + 1}.")

        task = operations.run(
            self,
            admin_api.order_rules(self.api, ids),
            success=saved,
            changed=RULES,
            reload=self.reload,
        )
        task.add_done_callback(lambda t: self.reload() if failed(t) else None)

    def _fallback_chosen(self, index: int) -> None:
        team_id = int(self.fallback.itemData(index) or 0)
        if team_id == self.fallback_team:
            return

        def saved(result: SettingsOut) -> None:
            self.fallback_team = int(result.values.get(FALLBACK_KEY) or 0)
            self.say(
                f"Leads no rule takes now go round-robin to {self.teams[team_id]}."
                if team_id
                else "Leads no rule takes now stay unassigned."
            )

        task = operations.run(
            self,
            admin_api.save_settings(self.api, {FALLBACK_KEY: team_id}),
            success=saved,
            changed=SETTINGS,
            fields={FALLBACK_KEY: self.fallback},
        )
        task.add_done_callback(
            lambda t: (
                self.fallback.setCurrentIndex(max(self.fallback.findData(self.fallback_team), 0)) if failed(t) else None
            )
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-assignment-rules", lambda: None)]
