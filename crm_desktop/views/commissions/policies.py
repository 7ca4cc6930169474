"""Commission policies: the list, and the editor admins open with New policy… / Edit… (name, percent
or fixed, marginal tiers, waiting days, who it applies to: all staff, all partners, teams, people).
Partners are ticked like teams (from the partners area's list)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
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

from crm_desktop import format, operations, tasks
from crm_desktop.api import admin, commissions, partners
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.list_page import LiveReload
from crm_desktop.widgets.user_picker import UserPicker
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.commissions import BASIS_WORDS, MemberIn, PolicyIn, PolicyOut, PolicyUpdate, TierIn

HEADERS = ["Name", "Pays", "Tiers", "Applies to", "Waiting days", "Active"]
REPORT_SETTING = "commissions.partner_report"
REPORT_WORDS = {"off": "Off", "weekly": "Weekly, on Mondays", "monthly": "Monthly, on the 1st"}


def tiers_text(policy: PolicyOut) -> str:
    """ "5% from 0.00, 7% from 10,000.00" or "100.00 from deal 1"."""
    if policy.basis == "percent":
        return ", ".join(f"{format.number(t.rate)}% from {format.money(t.threshold)}" for t in policy.tiers)
    return ", ".join(f"{format.money(t.rate, policy.currency)} from deal {int(t.threshold)}" for t in policy.tiers)


def applies_text(policy: PolicyOut) -> str:
    who = (["All staff"] if policy.all_staff else []) + (["All partners"] if policy.all_partners else [])
    return ", ".join(who + [m.name for m in policy.members]) or "Nobody yet"


class PoliciesTab(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.policies: list[PolicyOut] = []
        self.loads = 0
        self.setting_loaded = False
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setAccessibleName("Commission policies")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for column, width in enumerate((170, 170, 0, 170, 125, 70)):
            if width:
                self.table.setColumnWidth(column, width)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        keep_titles_whole(self.table)
        self.table.doubleClicked.connect(lambda _: self.edit())
        self.new_button = QPushButton("New policy…", self)
        self.new_button.clicked.connect(lambda: self.open_editor(None))
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.clicked.connect(self.edit)
        self.reports = QComboBox(self)
        self.reports.setObjectName("partnerReports")
        self.reports.setAccessibleName("E-mail partners their commission report")
        for code, words in REPORT_WORDS.items():
            self.reports.addItem(words, code)
        self.reports_label = QLabel("Partner reports by e-mail", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reports_label)
        buttons.addWidget(self.reports)
        may_edit = session.can("admin", "edit")
        for widget in (self.new_button, self.edit_button, self.reports, self.reports_label):
            shown_if(widget, may_edit)
        if may_edit:
            tasks.spawn(self._load_setting())
        note = QLabel(
            "Tiers are marginal: each rate applies only to the part of the month's paid amount (or the deals) "
            "from its threshold to the next.",
            self,
        )
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 12, 0, 0)
        root.setSpacing(10)
        root.addLayout(buttons)
        root.addWidget(self.table, 1)
        root.addWidget(note)
        self.live = LiveReload(self, commissions.CHANGED | {"*"}, self.reload)
        self.reload()

    def reload(self) -> None:
        tasks.spawn(self._load())

    async def _load(self) -> None:
        try:
            policies = await commissions.list_policies(self.api)
        except ApiError:
            return
        if not shiboken6.isValid(self):
            return
        self.policies = policies
        self.table.setRowCount(0)
        self.table.setRowCount(len(policies))
        for i, p in enumerate(policies):
            cells = [
                p.name,
                BASIS_WORDS[p.basis],
                tiers_text(p),
                applies_text(p),
                str(p.wait_days),
                "Yes" if p.active else "No",
            ]
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.loads += 1

    async def _load_setting(self) -> None:
        try:
            values = (await admin.get_settings(self.api)).values
        except ApiError:
            return
        if shiboken6.isValid(self):
            self.reports.setCurrentIndex(max(0, self.reports.findData(values.get(REPORT_SETTING, "off"))))
            self.reports.currentIndexChanged.connect(lambda _: self.save_setting())
            self.setting_loaded = True

    def save_setting(self) -> None:
        value = {REPORT_SETTING: self.reports.currentData()}
        operations.run(self, admin.save_settings(self.api, value), changed=admin.SETTINGS, busy=self.reports)

    def edit(self) -> None:
        row = self.table.currentRow()
        if self.session.can("admin", "edit") and 0 <= row < len(self.policies):
            self.open_editor(self.policies[row])

    def open_editor(self, policy: PolicyOut | None) -> PolicyDialog:
        dialog = PolicyDialog(self.session, policy, self)
        dialog.open()
        return dialog


class PolicyDialog(QDialog):
    """One policy's editor; Save sends it whole (PUT with the version seen)."""

    def __init__(self, session: Session, policy: PolicyOut | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commissionPolicy")
        self.setWindowTitle("Commission policy")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.api = session.api
        self.policy = policy
        self.name = QLineEdit(policy.name if policy else "", self)
        self.name.setAccessibleName("Name")
        self.basis = QComboBox(self)
        for code, words in BASIS_WORDS.items():
            self.basis.addItem(words, code)
        self.basis.setCurrentIndex(max(0, self.basis.findData(policy.basis if policy else "percent")))
        self.wait_days = QSpinBox(self)
        self.wait_days.setRange(0, 3650)
        self.wait_days.setValue(policy.wait_days if policy else 0)
        self.wait_days.setAccessibleName("Waiting days")
        since = policy.starts_on if policy else date.today().replace(day=1)
        self.starts_on = QDateEdit(QDate(since.year, since.month, since.day), self)
        self.starts_on.setCalendarPopup(True)
        self.starts_on.setDisplayFormat("dd MMM yyyy")
        self.starts_on.setAccessibleName("Counts payments from")
        self.all_staff = QCheckBox("All staff", self)
        self.all_staff.setChecked(bool(policy and policy.all_staff))
        self.all_partners = QCheckBox("All partners", self)
        self.all_partners.setChecked(bool(policy and policy.all_partners))
        self.active = QCheckBox("Active", self)
        self.active.setChecked(policy.active if policy else True)

        self.tiers = QTableWidget(0, 2, self)
        self.tiers.setHorizontalHeaderLabels(["From", "Rate (% or amount per deal)"])
        self.tiers.setAccessibleName("Tiers")
        self.tiers.verticalHeader().setVisible(False)
        self.tiers.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for tier in policy.tiers if policy else [TierIn(threshold=Decimal(0), rate=Decimal(5))]:
            self.add_tier(format.number(tier.threshold), format.number(tier.rate))
        add_tier = QPushButton("Add tier", self)
        add_tier.clicked.connect(lambda: self.add_tier("", ""))
        remove_tier = QPushButton("Remove tier", self)
        remove_tier.clicked.connect(lambda: self.tiers.removeRow(self.tiers.currentRow()))
        tier_buttons = QHBoxLayout()
        tier_buttons.addWidget(add_tier)
        tier_buttons.addWidget(remove_tier)
        tier_buttons.addStretch(1)

        self.members = QListWidget(self)
        self.members.setAccessibleName("Teams, partners and people")
        self.person = UserPicker(self.api, parent=self)
        self.person.setPlaceholderText("Add a person…")
        self.person.user_changed.connect(self.add_person)
        for m in policy.members if policy else []:
            self._member_item(m.name, MemberIn(user_id=m.user_id, team_id=m.team_id, partner_id=m.partner_id), True)
        tasks.spawn(self._teams())

        self.error = QLabel("", self)
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Pays", self.basis)
        form.addRow("Waiting days", self.wait_days)
        form.addRow("Counts payments from", self.starts_on)
        checks = QHBoxLayout()
        for check in (self.all_staff, self.all_partners):
            checks.addWidget(check)
        checks.addStretch(1)
        form.addRow("Applies to", checks)
        form.addRow("In use", self.active)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        root = QVBoxLayout(self)
        root.addLayout(form)
        root.addWidget(QLabel("Tiers: from an amount paid in the month (percent) or a deal number (fixed)", self))
        root.addWidget(self.tiers)
        root.addLayout(tier_buttons)
        root.addWidget(QLabel("Teams, partners (ticked) and people", self))
        root.addWidget(self.members)
        root.addWidget(self.person)
        root.addWidget(self.error)
        root.addWidget(buttons)
        self.resize(560, 640)

    def add_tier(self, threshold: str, rate: str) -> None:
        row = self.tiers.rowCount()
        self.tiers.insertRow(row)
        self.tiers.setItem(row, 0, QTableWidgetItem(threshold))
        self.tiers.setItem(row, 1, QTableWidgetItem(rate))

    def _member_item(self, name: str, member: MemberIn, checked: bool) -> QListWidgetItem:
        item = QListWidgetItem(name, self.members)
        item.setData(Qt.ItemDataRole.UserRole, member)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        return item

    async def _teams(self) -> None:
        try:
            teams = await admin.list_teams(self.api)
        except ApiError:
            return
        if not shiboken6.isValid(self):
            return
        there = [self.members.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.members.count())]
        for team in teams:
            if team.id not in {m.team_id for m in there}:
                self._member_item(f"Team {team.name}", MemberIn(team_id=team.id), False)
        try:
            found = (await partners.list_partners(self.api)).items
        except ApiError:
            return
        if shiboken6.isValid(self):
            for partner in found:
                if partner.id not in {m.partner_id for m in there}:
                    self._member_item(f"Partner {partner.name}", MemberIn(partner_id=partner.id), False)

    def add_person(self, user_id: Any) -> None:
        if isinstance(user_id, int):
            self._member_item(self.person.text().split(" <")[0], MemberIn(user_id=user_id), True)
            self.person.set_user(None, "")

    def body(self) -> dict[str, Any] | None:
        tiers = []
        for row in range(self.tiers.rowCount()):
            cells = [self.tiers.item(row, col) for col in (0, 1)]
            texts = [c.text().strip() if c is not None else "" for c in cells]
            if not any(texts):
                continue
            threshold, rate = (format.parse_decimal(t) for t in texts)
            if threshold is None or rate is None:
                self.error.setText(f"Tier {row + 1}: type both numbers, e.g. 10000 and 7.")
                return None
            tiers.append(TierIn.model_construct(threshold=threshold, rate=rate))
        members = [
            self.members.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.members.count())
            if self.members.item(i).checkState() == Qt.CheckState.Checked
        ]
        return {
            "name": self.name.text(),
            "basis": self.basis.currentData(),
            "currency": self.policy.currency if self.policy else None,
            "wait_days": self.wait_days.value(),
            "starts_on": date(self.starts_on.date().year(), self.starts_on.date().month(), self.starts_on.date().day()),
            "all_staff": self.all_staff.isChecked(),
            "all_partners": self.all_partners.isChecked(),
            "active": self.active.isChecked(),
            "tiers": tiers,
            "members": members,
        }

    def save(self) -> None:
        self.error.setText("")
        body = self.body()
        if body is None:
            return
        if self.policy is None:
            call = commissions.create_policy(self.api, PolicyIn.model_construct(**body))
        else:
            update = PolicyUpdate.model_construct(**body, version=self.policy.version)
            call = commissions.update_policy(self.api, self.policy.id, update)
        operations.run(
            self,
            call,
            success=lambda _: self.accept(),
            changed=commissions.CHANGED,
            fields={"name": self.name, "tiers": self.tiers, "wait_days": self.wait_days, "starts_on": self.starts_on},
            busy=self.save_button,
        )
