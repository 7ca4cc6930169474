"""Scheduled reports: the reports e-mailed daily, weekly or monthly (a table of them with when each
goes out, to whom, and how the last one went), a form to make or change one (for those who may
export reports), and Unsubscribe / Subscribe again for anyone who gets one."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
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
from crm_desktop.api import admin, auth, custom_reports, reports
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.header_fit import keep_titles_whole
from crm_desktop.widgets.report_parts import say as say_in
from crm_desktop.widgets.visibility import shown_if
from crm_server.contract.reports import REPORT_TITLES, ScheduleFilters, ScheduleIn, ScheduleOut

CHANGED = frozenset({"reports"})
PERIODS = (
    ("yesterday", "Yesterday"),
    ("today", "Today"),
    ("last_7_days", "The last 7 days"),
    ("last_30_days", "The last 30 days"),
    ("last_month", "Last month"),
    ("month_to_date", "This month so far"),
    ("year_to_date", "This year so far"),
)
FREQUENCIES = (("daily", "Every day"), ("weekly", "Every week"), ("monthly", "Every month"))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STATUS_WORDS = {"sent": "Sent", "empty": "Nothing to send", "failed": "Failed"}

log = logging.getLogger(__name__)


def when(schedule: ScheduleOut) -> str:
    """When a schedule goes out, in words."""
    hour = f"{schedule.hour:02d}:00 UTC"
    if schedule.frequency == "weekly":
        return f"{WEEKDAYS[(schedule.weekday or 1) - 1]}s at {hour}"
    if schedule.frequency == "monthly":
        return f"Day {schedule.day_of_month or 1} of each month at {hour}"
    return f"Every day at {hour}"


class ScheduleDialog(QDialog):
    """Make or change a schedule: which report over which days, when, to whom."""

    def __init__(self, parent: QWidget, page: SchedulesPage, schedule: ScheduleOut | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change the scheduled report" if schedule else "Schedule a report")
        self.setObjectName("scheduleDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.page = page
        self.schedule = schedule
        self.name = QLineEdit(schedule.name if schedule else "", self)
        self.report = QComboBox(self)
        for key, title in REPORT_TITLES.items():
            if key != "custom":  # each saved custom report is listed by name once loaded
                self.report.addItem(title, key)
        self.period = QComboBox(self)
        for key, text in PERIODS:
            self.period.addItem(text, key)
        self.frequency = QComboBox(self)
        for key, text in FREQUENCIES:
            self.frequency.addItem(text, key)
        self.weekday = QComboBox(self)
        for n, day in enumerate(WEEKDAYS, start=1):
            self.weekday.addItem(day, n)
        self.day_of_month = QSpinBox(self)
        self.day_of_month.setRange(1, 28)
        self.hour = QSpinBox(self)
        self.hour.setRange(0, 23)
        self.hour.setSuffix(":00 UTC")
        self.hour.setValue(7)
        self.people = QListWidget(self)
        self.people.setAccessibleName("People")
        self.people.setMinimumHeight(140)
        self.roles = QListWidget(self)
        self.roles.setAccessibleName("Roles")
        self.roles.setMinimumHeight(100)
        self.send_empty = QCheckBox("Send it even when it counts nothing", self)
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Report", self.report)
        form.addRow("&Covering", self.period)
        form.addRow("&How often", self.frequency)
        form.addRow("&Weekday", self.weekday)
        form.addRow("&Day of the month", self.day_of_month)
        form.addRow("&At", self.hour)
        form.addRow("&People", self.people)
        form.addRow("R&oles", self.roles)
        form.addRow("", self.send_empty)
        self.form = form
        self.notice = QLabel(self)
        self.notice.setProperty("role", "error")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 16, 16, 16)
        box.addLayout(form)
        box.addWidget(self.notice)
        box.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self.frequency.currentIndexChanged.connect(lambda _: self._frequency_shown())
        if schedule is not None:
            self.report.setCurrentIndex(max(self.report.findData(schedule.report), 0))
            self.period.setCurrentIndex(max(self.period.findData(schedule.period), 0))
            self.frequency.setCurrentIndex(max(self.frequency.findData(schedule.frequency), 0))
            self.weekday.setCurrentIndex(max(self.weekday.findData(schedule.weekday or 1), 0))
            self.day_of_month.setValue(schedule.day_of_month or 1)
            self.hour.setValue(schedule.hour)
            self.send_empty.setChecked(schedule.send_empty)
        self._frequency_shown()
        self.loaded = False
        tasks.spawn(self._load())

    def _frequency_shown(self) -> None:
        chosen = self.frequency.currentData()
        self.form.setRowVisible(self.weekday, chosen == "weekly")
        self.form.setRowVisible(self.day_of_month, chosen == "monthly")

    async def _load(self) -> None:
        chosen_users = set(self.schedule.user_ids if self.schedule else [])
        chosen_roles = set(self.schedule.role_ids if self.schedule else [])
        try:
            people = (await auth.colleagues(self.page.api, active=True, limit=200)).items
            roles = await admin.list_roles(self.page.api)
        except ApiError as exc:
            self.say(exc.message)
            return
        try:
            saved = await custom_reports.saved(self.page.api)
        except ApiError as exc:
            log.info("the saved custom reports could not be read: %s", exc.message)
            saved = []
        for report in saved:
            self.report.addItem(f"Custom: {report.name}", f"custom:{report.id}")
        if self.schedule is not None and self.schedule.report == "custom":
            wanted = f"custom:{self.schedule.filters.get('custom_report_id')}"
            self.report.setCurrentIndex(max(self.report.findData(wanted), 0))
        for widget, items, chosen in (
            (
                self.people,
                [(p.id, p.full_name) for p in sorted(people, key=lambda p: p.full_name.lower())],
                chosen_users,
            ),
            (self.roles, [(r.id, r.name) for r in roles], chosen_roles),
        ):
            for item_id, text in items:
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, item_id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if item_id in chosen else Qt.CheckState.Unchecked)
                widget.addItem(item)
        self.loaded = True

    def check(self, widget: QListWidget, text: str) -> None:
        """Tick the row named `text`."""
        for row in range(widget.count()):
            item = widget.item(row)
            if item.text() == text:
                item.setCheckState(Qt.CheckState.Checked)
                return
        raise LookupError(text)

    @staticmethod
    def _ticked(widget: QListWidget) -> list[int]:
        return [
            int(widget.item(r).data(Qt.ItemDataRole.UserRole))
            for r in range(widget.count())
            if widget.item(r).checkState() == Qt.CheckState.Checked
        ]

    def body(self) -> ScheduleIn:
        frequency = self.frequency.currentData()
        report = str(self.report.currentData())
        filters = ScheduleFilters(**self.schedule.filters) if self.schedule else ScheduleFilters()
        if report.startswith("custom:"):  # a saved custom report: "custom" and which one
            report, filters.custom_report_id = "custom", int(report.split(":", 1)[1])
        return ScheduleIn.model_construct(
            name=self.name.text().strip(),
            report=report,
            period=self.period.currentData(),
            filters=filters,
            frequency=frequency,
            hour=self.hour.value(),
            weekday=self.weekday.currentData() if frequency == "weekly" else None,
            day_of_month=self.day_of_month.value() if frequency == "monthly" else None,
            user_ids=self._ticked(self.people),
            role_ids=self._ticked(self.roles),
            send_empty=self.send_empty.isChecked(),
            active=True,
        )

    def save(self) -> None:
        def saved(_: ScheduleOut) -> None:
            self.accept()
            self.page.reload()

        operations.run(
            self,
            reports.save_schedule(self.page.api, self.body(), self.schedule.id if self.schedule else None),
            success=saved,
            changed=CHANGED,
            fields={"name": self.name, "user_ids": self.people, "role_ids": self.roles, "weekday": self.weekday},
            busy=self.buttons,
        )

    def say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))


class SchedulesPage(QWidget):
    """The scheduled reports, for everyone who sees reports; making them needs reports export."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scheduledReports")
        self.session = session
        self.api = session.api
        self.schedules: list[ScheduleOut] = []
        self.loads = 0
        self._task: Any = None
        title = QLabel("Scheduled reports", self)
        title.setProperty("role", "title")
        subtitle = QLabel(
            "Reports e-mailed as a workbook with the key figures in the message. Each person gets "
            "the report as they may see it in the CRM.",
            self,
        )
        subtitle.setProperty("role", "muted")
        subtitle.setWordWrap(True)
        self.new_button = QPushButton("Schedule a report…", self)
        self.new_button.setProperty("role", "primary")
        self.new_button.clicked.connect(lambda: self.open_editor())
        self.edit_button = QPushButton("Change…", self)
        self.edit_button.clicked.connect(lambda: self.open_editor(self.current()))
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove)
        self.subscribe_button = QPushButton("Unsubscribe", self)
        self.subscribe_button.setToolTip("Stop (or start again) getting this report by e-mail")
        self.subscribe_button.clicked.connect(self.toggle_subscription)
        for button in (self.new_button, self.edit_button, self.remove_button):
            shown_if(button, session.can("reports", "export"))
        self.table = QTableWidget(0, 6, self)
        self.table.setHorizontalHeaderLabels(["Name", "Report", "Covering", "When", "Last sent", "How it went"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 6):  # each cell whole: when it goes out, how it went
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Scheduled reports")
        keep_titles_whole(self.table)
        self.table.itemSelectionChanged.connect(self._update_actions)
        self.table.cellDoubleClicked.connect(lambda *_: self.open_editor(self.current()))
        self.notice = QLabel(self)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        actions = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.remove_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.subscribe_button)
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 20, 32, 12)
        root.setSpacing(10)
        root.addWidget(title)
        root.addWidget(subtitle)
        root.addLayout(actions)
        root.addWidget(self.notice)
        root.addWidget(self.table, 1)
        operations.change_bus().changed.connect(lambda areas: self.reload() if areas & CHANGED else None)
        self._update_actions()
        self.reload()

    def reload(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = tasks.spawn(self._load())

    def is_busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _load(self) -> None:
        try:
            self.schedules = await reports.schedules(self.api)
        except ApiError as exc:
            self.say(exc.message)
            return
        chosen = self.current()
        self.table.setRowCount(len(self.schedules))
        for row, s in enumerate(self.schedules):
            cells = (
                s.name + (" (unsubscribed)" if s.unsubscribed else ""),
                REPORT_TITLES.get(s.report, s.report),
                dict(PERIODS).get(s.period, s.period),
                when(s),
                format.moment(s.last_run_at) if s.last_run_at else "Not yet",
                STATUS_WORDS.get(s.last_status or "", "—") + (f": {s.last_error}" if s.last_error else ""),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            if chosen is not None and s.id == chosen.id:
                self.table.selectRow(row)
        self.loads += 1
        self._update_actions()

    def current(self) -> ScheduleOut | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.schedules):
            return None
        return self.schedules[rows[0].row()]

    def _update_actions(self) -> None:
        chosen = self.current()
        self.edit_button.setEnabled(chosen is not None)
        self.remove_button.setEnabled(chosen is not None)
        self.subscribe_button.setEnabled(chosen is not None)
        self.subscribe_button.setText("Subscribe again" if chosen and chosen.unsubscribed else "Unsubscribe")

    def open_editor(self, schedule: ScheduleOut | None = None) -> ScheduleDialog:
        dialog = ScheduleDialog(self, self, schedule)
        dialog.open()
        return dialog

    def remove(self) -> None:
        chosen = self.current()
        if chosen is None:
            return

        def removed(_: None) -> None:
            self.say(f"Removed “{chosen.name}”.", "info")
            self.reload()

        operations.run(self, reports.delete_schedule(self.api, chosen.id), success=removed, changed=CHANGED)

    def toggle_subscription(self) -> None:
        chosen = self.current()
        if chosen is None:
            return

        def done(result: ScheduleOut) -> None:
            self.say(
                f"You will no longer get “{result.name}”."
                if result.unsubscribed
                else f"You will get “{result.name}” again.",
                "info",
            )
            self.reload()

        operations.run(self, reports.subscribe(self.api, chosen.id, chosen.unsubscribed), success=done)

    def say(self, text: str, role: str = "error") -> None:
        say_in(self.notice, text, role)
