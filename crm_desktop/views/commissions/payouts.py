"""The payout report: per person or partner and month, what is pending, approved and paid, from a
month to a month; exported to Excel as shown (those whose role may export commissions)."""

from __future__ import annotations

from datetime import date

import shiboken6
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QFileDialog,
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
from crm_desktop.api import commissions
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.excel_export import ask_save_path, write_workbook
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.list_page import LiveReload
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.commissions import PayoutOut

HEADERS = ["Month", "For", "Kind", "Currency", "Pending", "Approved", "Paid", "Total"]


def _month_edit(parent: QWidget, day: date, name: str) -> QDateEdit:
    edit = QDateEdit(QDate(day.year, day.month, 1), parent)
    edit.setDisplayFormat("MMMM yyyy")
    edit.setAccessibleName(name)
    edit.setCurrentSection(QDateEdit.Section.MonthSection)
    return edit


class PayoutReport(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.api = session.api
        self.report: PayoutOut | None = None
        self.loads = 0
        today = date.today()
        year, month = divmod(today.year * 12 + today.month - 1 - 11, 12)
        start = date(year, month + 1, 1)  # the last twelve months
        self.first = _month_edit(self, start, "From month")
        self.last = _month_edit(self, today, "To month")
        for edit in (self.first, self.last):
            edit.dateChanged.connect(lambda _: self.reload())
        self.export_button = QPushButton("Export to Excel", self)
        self.export_button.setToolTip("Export the table as shown")
        self.export_button.clicked.connect(self.export)
        top = QHBoxLayout()
        top.addWidget(QLabel("From", self))
        top.addWidget(self.first)
        top.addWidget(QLabel("to", self))
        top.addWidget(self.last)
        top.addStretch(1)
        top.addWidget(self.export_button)
        shown_if(self.export_button, session.can("commissions", "export"))

        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setAccessibleName("Payouts")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for column, width in enumerate((150, 0, 80, 95, 110, 110, 110, 110)):
            if width:
                self.table.setColumnWidth(column, width)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        keep_titles_whole(self.table)
        self.message = QLabel("", self)
        self.message.setProperty("role", "muted")
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 12, 0, 0)
        root.setSpacing(10)
        root.addLayout(top)
        root.addWidget(self.table, 1)
        root.addWidget(self.message)
        self.live = LiveReload(self, commissions.CHANGED | {"*"}, self.reload)
        self.reload()

    def months(self) -> tuple[date, date]:
        first, last = self.first.date(), self.last.date()
        return date(first.year(), first.month(), 1), date(last.year(), last.month(), 1)

    def reload(self) -> None:
        tasks.spawn(self._load(*self.months()))

    async def _load(self, first: date, last: date) -> None:
        try:
            report = await commissions.payouts(self.api, first, last)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.message.setText(exc.message)
            return
        if not shiboken6.isValid(self):
            return
        self.report = report
        self.fill(report)
        self.loads += 1

    def rows(self) -> list[list[str]]:
        if self.report is None:
            return []
        return [
            [
                format.month(r.month),
                r.name,
                "Partner" if r.kind == "partner" else "Staff",
                r.currency,
                format.money(r.pending),
                format.money(r.approved),
                format.money(r.paid),
                format.money(r.total),
            ]
            for r in self.report.rows
        ]

    def fill(self, report: PayoutOut) -> None:
        rows = self.rows()
        self.table.setRowCount(0)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                if j >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.message.setText("" if rows else "No commissions in these months.")
        self.export_button.setEnabled(bool(rows))

    def export(self) -> QFileDialog | None:
        if self.report is None or not self.session.can("commissions", "export"):
            return None
        return ask_save_path(self, "Export payouts to Excel", "payouts.xlsx", self.export_to, "payoutExportDialog")

    def export_to(self, path: str) -> None:
        if self.report is None:
            return
        values = [
            [
                r.month,
                r.name,
                "Partner" if r.kind == "partner" else "Staff",
                r.currency,
                r.pending,
                r.approved,
                r.paid,
                r.total,
            ]
            for r in self.report.rows
        ]
        operations.run(self, write_workbook(path, "Payouts", HEADERS, values), busy=self.export_button)
