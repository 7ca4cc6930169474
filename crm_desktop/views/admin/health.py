"""System health: database, job runner, live events, integrations, backups, and the last job runs
with their errors and results (what a job said it did, e.g. why the recurring invoices skipped
one). Refreshed every 30 seconds while the page is on screen, and on F5."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import AdminPage, ScreenshotState, plural, title_label, tone
from crm_server.contract.admin import ComponentHealth, Health, JobRun
from crm_server.contract.auth import Me

REFRESH_MS = 30_000
COMPONENTS = (
    ("database", "Database"),
    ("jobs", "Job runner"),
    ("events", "Live events"),
    ("integrations", "Integrations"),
    ("backups", "Backups"),
)
# Theme colour token of each component state (its word comes from format.label).
STATUS_TONES = {"ok": "success", "down": "danger", "not_configured": "muted", "degraded": "warning_text"}
JOB_COLORS = {"failed": "danger", "succeeded": "success", "doing": "accent"}
JOB_COLUMNS = ("Job", "Status", "Started", "Took", "Attempts", "Server", "Error", "Result")


def _task_words(run: JobRun) -> str:
    """What the job does ("Make the recurring invoices"), as the server's job registry says it."""
    return run.title or format.label(run.task.rsplit(".", 1)[-1])


class _Card(QFrame):
    """One component: a coloured status word and the server's detail."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("healthCard")
        self.setProperty("role", "card")
        self.setMinimumWidth(200)
        self.title = QLabel(title)
        self.title.setProperty("role", "section")
        self.status = QLabel("…")
        self.status.setObjectName("healthStatus")
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setProperty("role", "muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.detail)
        layout.addStretch(1)

    def set(self, component: ComponentHealth) -> None:
        text, token = format.label(component.status), STATUS_TONES.get(component.status, "muted")
        self.status.setText(f"● {text}")
        self.status.setStyleSheet(f"color: {tone(token)}; font-size: 12pt; font-weight: 600;")
        self.detail.setText(component.detail)
        self.setAccessibleDescription(f"{self.title.text()}: {text}. {component.detail}")


class HealthPage(AdminPage):
    """Component cards on top, the job runs below."""

    title = "System health"

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.health: Health | None = None
        self.overall = QLabel("Checking…")
        self.overall.setObjectName("healthOverall")
        self.overall.setProperty("role", "heading")
        refresh = QPushButton("Refresh")
        refresh.setToolTip("Check again (F5)")
        refresh.clicked.connect(self.reload)
        top = QHBoxLayout()
        top.addWidget(self.overall)
        top.addStretch(1)
        top.addWidget(refresh)

        self.cards: dict[str, _Card] = {}
        grid = QGridLayout()
        grid.setSpacing(10)
        for i, (key, label) in enumerate(COMPONENTS):
            card = _Card(label)
            self.cards[key] = card
            grid.addWidget(card, i // 3, i % 3)

        self.failed_only = QCheckBox("Failures only")
        self.failed_only.toggled.connect(lambda _: self._load_jobs())
        jobs_title = QLabel("Last job runs")
        jobs_title.setProperty("role", "heading")
        jobs_head = QHBoxLayout()
        jobs_head.addWidget(jobs_title)
        jobs_head.addStretch(1)
        jobs_head.addWidget(self.failed_only)
        self.jobs = QTableWidget(0, len(JOB_COLUMNS))
        self.jobs.setObjectName("jobRuns")
        self.jobs.setHorizontalHeaderLabels(list(JOB_COLUMNS))
        self.jobs.verticalHeader().setVisible(False)
        self.jobs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.jobs.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.jobs.setAlternatingRowColors(True)
        self.jobs.horizontalHeader().setStretchLastSection(True)
        self.jobs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.jobs.setColumnWidth(0, 260)
        self.jobs.setColumnWidth(2, 140)
        self.jobs.setColumnWidth(6, 260)
        self.jobs.itemSelectionChanged.connect(self._show_job)
        # The selected run's whole error or result (the cells cut long text).
        self.job_detail = QLabel("Select a job run to read its whole error or result.")
        self.job_detail.setObjectName("jobDetail")
        self.job_detail.setProperty("role", "muted")
        self.job_detail.setWordWrap(True)
        self.job_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.runs: list[JobRun] = []
        self.jobs_empty = QLabel("No job has run yet.")
        self.jobs_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.jobs_empty.setProperty("role", "muted")
        self.jobs_empty.setVisible(False)

        self.root.addWidget(title_label("System health", "Is everything the CRM depends on working?"))
        self.root.addLayout(top)
        self.root.addLayout(grid)
        self.root.addLayout(jobs_head)
        self.root.addWidget(self.jobs, 1)
        self.root.addWidget(self.job_detail)
        self.root.addWidget(self.jobs_empty)
        self.root.addStretch(0)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.reload)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()

    def reload(self) -> None:
        if self.is_busy():
            return
        self.load(admin_api.health(self.api), self._health_arrived)
        self._load_jobs()

    def _load_jobs(self) -> None:
        self.load(admin_api.jobs(self.api, 50, self.failed_only.isChecked()), self._jobs_arrived)

    def _health_arrived(self, health: Health) -> None:
        self.health = health
        color = tone(STATUS_TONES.get(health.status, "muted"))
        failures = len(health.recent_failures)
        note = f" · {plural(failures, 'recent job failure')}" if failures else ""
        self.overall.setText(
            f"<span style='color:{color}'>● {format.label(health.status)}</span> · server {health.version}{note}"
        )
        for key, card in self.cards.items():
            component = getattr(health, key, None)
            card.set(component if isinstance(component, ComponentHealth) else ComponentHealth(status="not_configured"))

    def _jobs_arrived(self, runs: list[JobRun]) -> None:
        self.jobs.setRowCount(len(runs))
        for i, run in enumerate(runs):
            took = run.duration_ms
            cells = [
                _task_words(run),
                format.label(run.status),
                format.moment(run.started_at or run.scheduled_at),
                "—" if took is None else (f"{took} ms" if took < 10_000 else f"{took / 1000:.0f} s"),
                str(run.attempts),
                run.worker or "—",
                run.error or "",
                run.result or "",
            ]  # a failure's why; what a job did
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text.splitlines()[0] if text and j >= 6 else text)
                if j == 0:
                    item.setToolTip(run.task)
                if j == 1 and run.status in JOB_COLORS:
                    item.setForeground(QColor(tone(JOB_COLORS[run.status])))
                if j == 6 and text:
                    item.setForeground(QColor(tone("danger")))
                if j >= 6 and text:
                    item.setToolTip(text)
                self.jobs.setItem(i, j, item)
        self.runs = runs
        self.jobs_empty.setVisible(not runs)
        self.jobs.setVisible(bool(runs))
        self.job_detail.setVisible(bool(runs))
        self._show_job()
        self.jobs_empty.setText("No failed job runs." if self.failed_only.isChecked() else "No job has run yet.")

    def _show_job(self) -> None:
        row = self.jobs.currentRow() if self.jobs.selectedItems() else -1
        if not 0 <= row < len(self.runs):
            self.job_detail.setText("Select a job run to read its whole error or result.")
            return
        run = self.runs[row]
        task = _task_words(run)
        if run.error:
            self.job_detail.setText(f"{task} failed: {run.error}")
        elif run.result:
            self.job_detail.setText(f"{task}: {run.result}")
        elif run.status == "todo":
            self.job_detail.setText(f"{task} waits for a job worker to run it.")
        else:
            self.job_detail.setText(f"{task} said nothing ({format.label(run.status).lower()}).")

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-health", lambda: None)]
