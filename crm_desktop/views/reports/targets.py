"""Sales targets (a manager's): what each team and each person should win in a month, in the base
currency, beside what they won. Pick the month; type a target into its cell (Enter saves it; an
empty cell removes it). Opened from the Pipeline and forecast report ("Targets…")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import shiboken6
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations, tasks
from crm_desktop.api import targets as targets_api
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.views.reports.costs import may_enter_costs
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.report_parts import say as say_in
from crm_server.contract.auth import Me
from crm_server.contract.targets import TargetIn, TargetRow, TargetsOut

COLUMNS = ("Team or person", "Team", "Won", "Target")
TARGET = 3


def may_set_targets(me: Me) -> bool:
    """Managers (leads edit beyond their own) and admins (the server says so too)."""
    grant = me.permissions.get("admin")
    return may_enter_costs(me) or (grant is not None and "edit" in grant.actions)


class TargetsDialog(QDialog):
    def __init__(self, parent: QWidget, api: ApiClient, on_saved: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sales targets")
        self.setObjectName("targetsDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.api = api
        self.on_saved = on_saved
        self.data: TargetsOut | None = None
        self.loads = 0
        self._filling = False
        today = date.today()
        self.month = QDateEdit(QDate(today.year, today.month, 1), self)
        self.month.setObjectName("targetsMonth")
        self.month.setDisplayFormat("MMMM yyyy")
        self.month.setAccessibleName("Month")
        self.month.setCurrentSection(QDateEdit.Section.MonthSection)
        earlier = QPushButton("‹", self)
        earlier.setToolTip("The month before")
        earlier.setAccessibleName("The month before")
        later = QPushButton("›", self)
        later.setToolTip("The month after")
        later.setAccessibleName("The month after")
        earlier.clicked.connect(lambda: self.month.setDate(self.month.date().addMonths(-1)))
        later.clicked.connect(lambda: self.month.setDate(self.month.date().addMonths(1)))
        self.month.dateChanged.connect(lambda _: self.reload())
        caption = QLabel("&Month", self)
        caption.setBuddy(self.month)
        top = QHBoxLayout()
        top.setSpacing(6)
        for widget in (caption, earlier, self.month, later):
            top.addWidget(widget)
        top.addStretch(1)
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("targetsTable")
        self.table.setAccessibleName("Targets")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, TARGET):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TARGET, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(TARGET, 140)  # room to type a target into an empty cell
        keep_titles_whole(self.table)
        self.table.itemChanged.connect(self._edited)
        hint = QLabel("Type a target into its cell and press Enter; clear the cell to remove it.", self)
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 16, 16, 16)
        box.setSpacing(10)
        box.addLayout(top)
        box.addWidget(hint)
        box.addWidget(self.notice)
        box.addWidget(self.table, 1)
        box.addWidget(buttons)
        self.resize(760, 560)
        operations.change_bus().changed.connect(self._on_changed)
        self.reload()

    def chosen_month(self) -> date:
        day = self.month.date()
        return date(day.year(), day.month(), 1)

    def reload(self) -> None:
        tasks.spawn(self._load(self.chosen_month()))

    async def _load(self, month: date) -> None:
        try:
            data = await targets_api.month(self.api, month)
        except ApiError as exc:
            self.say(exc.message)
            return
        if month != self.chosen_month():
            return  # another month was chosen meanwhile: its own load fills the table
        self.data = data
        self._fill(data)
        self.loads += 1

    def _fill(self, data: TargetsOut) -> None:
        self._filling = True
        try:
            self.table.setRowCount(len(data.rows))
            for row, entry in enumerate(data.rows):
                name = f"{entry.name} (team)" if entry.kind == "team" else entry.name
                cells = (
                    name,
                    entry.team_name or "",
                    format.money(entry.won, data.currency),
                    format.money(entry.target, data.currency) if entry.target is not None else "",
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                    if column == TARGET and data.can_edit:
                        flags |= Qt.ItemFlag.ItemIsEditable
                        item.setToolTip(f"{name}'s target for {data.month.strftime('%B %Y')}, {data.currency}")
                    item.setFlags(flags)
                    if column >= 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, column, item)
        finally:
            self._filling = False

    def row_of(self, name: str) -> int:
        """The table row of a person or a team (a team as "<name> (team)")."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                return row
        raise KeyError(name)

    def set_target(self, name: str, text: str) -> None:
        """Type `text` into the target cell of `name` (what a person does, for tests and keyboards)."""
        item = self.table.item(self.row_of(name), TARGET)
        assert item is not None
        item.setText(text)

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != TARGET or self.data is None:
            return
        entry = self.data.rows[item.row()]
        text = item.text().strip()
        if not text:
            if entry.target_id is not None:
                self._save(entry, targets_api.remove(self.api, entry.target_id), "Removed the target of")
            return
        amount = format.parse_decimal(text)
        if amount is None or amount < 0:
            self.say("Type the target as an amount, e.g. 25,000.00.")
            self._fill(self.data)
            return
        body = TargetIn.model_construct(
            month=self.data.month,
            user_id=entry.id if entry.kind == "user" else None,
            team_id=entry.id if entry.kind == "team" else None,
            amount=amount,
        )
        self._save(entry, targets_api.put(self.api, body), "Saved the target of")

    def _save(self, entry: TargetRow, call: Awaitable[object], said: str) -> None:
        def saved(_: object) -> None:
            self.say(f"{said} {entry.name} for {self.chosen_month().strftime('%B %Y')}.", "info")
            if self.on_saved is not None:
                self.on_saved()

        def done(_: object) -> None:  # saved or refused: show what the server holds
            if shiboken6.isValid(self):
                self.reload()

        task = operations.run(self, call, success=saved, changed=targets_api.CHANGED)
        task.add_done_callback(done)

    def _on_changed(self, areas: frozenset[str]) -> None:
        if "reports.targets" in areas or "*" in areas:
            self.reload()

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)
