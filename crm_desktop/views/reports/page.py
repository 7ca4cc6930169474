"""The Reports module: a drop-down of the reports at the top (Sales, then the standard reports of
crm_desktop.views.reports.standard), the chosen one under it. The choice is remembered. (A list
beside the report would take the width the sales report's controls need on a 1280 px screen.)"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from crm_desktop.session import Session
from crm_desktop.views.reports.custom import CustomReportPage
from crm_desktop.views.reports.sales import SalesReportPage
from crm_desktop.views.reports.schedules import SchedulesPage
from crm_desktop.views.reports.standard import StandardReportPage
from crm_server.contract.reports import REPORT_TITLES

CHOSEN_KEY = "reports/chosen"
ORDER = (
    "sales",
    "funnel",
    "lost",
    "sources",
    "activity",
    "forecast",
    "support",
    "receivables",
    "daily",
    "custom",
    "schedules",
)
TITLES = {
    "sales": "Sales (accrual and cash)",
    **REPORT_TITLES,
    "custom": "Custom report",
    "schedules": "Scheduled reports (by e-mail)",
}


class ReportsPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reportsPage")
        self.session = session
        self.list = QComboBox(self)
        self.list.setObjectName("reportChoice")
        self.list.setAccessibleName("Report")
        self.list.setMinimumWidth(240)
        self.list.setMaxVisibleItems(len(ORDER))
        for key in ORDER:
            self.list.addItem(TITLES[key], key)
        caption = QLabel("Report", self)
        caption.setProperty("role", "muted")
        caption.setBuddy(self.list)
        self.stack = QStackedWidget(self)
        self.sales: SalesReportPage | None = None
        self.standard: StandardReportPage | None = None
        self.schedules: SchedulesPage | None = None
        self.custom: CustomReportPage | None = None
        top = QHBoxLayout()
        top.setContentsMargins(32, 12, 32, 0)
        top.setSpacing(8)
        top.addWidget(caption)
        top.addWidget(self.list)
        top.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(top)
        column.addWidget(self.stack, 1)
        remembered = str(QSettings().value(CHOSEN_KEY, "sales"))
        self.list.currentIndexChanged.connect(self._chosen)
        self.list.setCurrentIndex(ORDER.index(remembered) if remembered in ORDER else 0)
        if self.stack.count() == 0:  # index 0 set before the signal was connected
            self._chosen(self.list.currentIndex())

    def _chosen(self, row: int) -> None:
        if row < 0:
            return
        self.open_report(ORDER[row])

    def show_filtered(self, values: dict[str, Any]) -> None:
        """A Home figure's filter: {"report": key} opens that report."""
        key = values.get("report")
        if isinstance(key, str) and key in ORDER:
            self.open_report(key)

    def open_report(self, key: str) -> QWidget:
        """Show the report `key` (keeps the filters of the standard reports)."""
        QSettings().setValue(CHOSEN_KEY, key)
        if self.list.currentIndex() != ORDER.index(key):
            self.list.blockSignals(True)
            self.list.setCurrentIndex(ORDER.index(key))
            self.list.blockSignals(False)
        if key == "sales":
            if self.sales is None:
                self.sales = SalesReportPage(self.session, self.stack)
                self.stack.addWidget(self.sales)
            self.stack.setCurrentWidget(self.sales)
            return self.sales
        if key == "custom":
            if self.custom is None:
                self.custom = CustomReportPage(self.session, self.stack)
                self.stack.addWidget(self.custom)
            self.stack.setCurrentWidget(self.custom)
            return self.custom
        if key == "schedules":
            if self.schedules is None:
                self.schedules = SchedulesPage(self.session, self.stack)
                self.stack.addWidget(self.schedules)
            self.stack.setCurrentWidget(self.schedules)
            return self.schedules
        if self.standard is None:
            self.standard = StandardReportPage(self.session, key, self.stack)
            self.stack.addWidget(self.standard)
        elif self.standard.key != key:
            self.standard.set_report(key)
        self.stack.setCurrentWidget(self.standard)
        return self.standard
