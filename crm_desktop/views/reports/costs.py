"""What a manager spent per lead source and month (the lead sources report's return on spend): the
year's entries in a table, and a form to set one (an amount of 0 removes it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import leads, reports
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.widgets.form import DateEdit
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.report_parts import say as say_in
from crm_server.contract.auth import Me, Scope
from crm_server.contract.reports import SourceCostIn, SourceCostOut

CHANGED = frozenset({"reports"})


def may_enter_costs(me: Me) -> bool:
    """A manager's to enter (the server says so too): someone who edits leads beyond their own."""
    grant = me.permissions.get("leads")
    return grant is not None and "edit" in grant.actions and grant.scope != Scope.own


class SourceCostsDialog(QDialog):
    def __init__(self, parent: QWidget, api: ApiClient, on_saved: Callable[[], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Spend per lead source")
        self.setObjectName("sourceCostsDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.api = api
        self.on_saved = on_saved
        self.costs: list[SourceCostOut] = []
        self.loads = 0
        self.source = QComboBox(self)
        self.source.setEditable(True)
        self.source.setAccessibleName("Source")
        self.source.setMinimumWidth(220)
        self.month = DateEdit(parent=self)
        self.month.setAccessibleName("Month")
        today = date.today()
        self.month.setDate(QDate(today.year, today.month, 1))
        self.amount = QLineEdit(self)
        self.amount.setAccessibleName("Amount")
        self.amount.setPlaceholderText("0.00")
        self.currency = QLineEdit(self)
        self.currency.setAccessibleName("Currency")
        self.currency.setPlaceholderText("base currency")
        self.currency.setMaxLength(3)
        form = QFormLayout()
        form.addRow("&Source", self.source)
        form.addRow("&Month (any day of it)", self.month)
        form.addRow("&Amount spent", self.amount)
        form.addRow("&Currency", self.currency)
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Month", "Source", "Spent"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(200)
        self.table.setAccessibleName("Spend entered")
        keep_titles_whole(self.table)
        self.table.cellClicked.connect(self._pick)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        hint = QLabel("An amount of 0 removes the month's entry. Click a row to change it.", self)
        hint.setProperty("role", "muted")
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 16, 16, 16)
        box.setSpacing(10)
        box.addLayout(form)
        box.addWidget(hint)
        box.addWidget(self.notice)
        box.addWidget(self.table, 1)
        box.addWidget(self.buttons)
        self.resize(560, 520)
        tasks.spawn(self._load())

    async def _load(self) -> None:
        try:
            if self.source.count() == 0:
                for named in await leads.lead_sources(self.api):
                    self.source.addItem(named.name)
            self.costs = await reports.source_costs(self.api)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.table.setRowCount(len(self.costs))
        for row, cost in enumerate(self.costs):
            cells = (cost.month.strftime("%b %Y"), cost.source, format.money(cost.amount, cost.currency))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.loads += 1

    def _pick(self, row: int, _: int) -> None:
        cost = self.costs[row]
        self.source.setCurrentText(cost.source)
        self.month.setDate(QDate(cost.month.year, cost.month.month, 1))
        self.amount.setText(str(cost.amount))
        self.currency.setText(cost.currency)

    def save(self) -> None:
        amount = format.parse_decimal(self.amount.text())
        if amount is None:
            self.say("Type the amount spent, e.g. 1,250.00.")
            return
        day = self.month.date()
        body = SourceCostIn.model_construct(
            source=self.source.currentText().strip(),
            month=date(day.year(), day.month(), 1),
            amount=amount,
            currency=self.currency.text().strip().upper() or None,
        )

        def saved(_: SourceCostOut | None) -> None:
            self.say(f"Saved what {body.source} cost in {body.month.strftime('%B %Y')}.", "info")
            self.on_saved()
            tasks.spawn(self._load())

        operations.run(
            self,
            reports.put_source_cost(self.api, body),
            success=saved,
            changed=CHANGED,
            fields={"source": self.source, "amount": self.amount, "currency": self.currency, "month": self.month},
            busy=self.buttons,
        )

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)
