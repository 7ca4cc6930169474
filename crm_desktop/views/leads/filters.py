"""The filter bar shared by the leads board and list (the server's LeadFilters), with saved views.

`values()` gives the query parameters with "any" left out, so switching between board and list
keeps the same filters. Choices report at once; typing (search, tag) is debounced. Saved views are
named sets of values kept in QSettings per user, so each colleague has their own.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, cast

import shiboken6
from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import tasks
from crm_desktop.api import admin, auth
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.leads.lookups import sales_lookups
from crm_desktop.widgets.form import DateEdit
from crm_desktop.widgets.saved_views import SavedViewsMixin, refill, select

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300
PERIODS: tuple[tuple[str, int | None], ...] = (
    ("Created any time", None),
    ("Created today", 0),
    ("Created in the last 7 days", 6),
    ("Created in the last 30 days", 29),
    ("Created in the last 90 days", 89),
    ("Created between…", -1),
)
# Keys that narrow what is shown (pipeline and "show closed" choose what to show, not narrow it).
NARROWING = ("owner_id", "unassigned", "team_id", "source", "tag", "created_from", "created_to", "q", "min_engagement")
# Campaign engagement (issue #22: opens + 3 x clicks, capped at 100): the least score shown.
ENGAGEMENT = (("Any engagement", None), ("Opened (1+)", 1), ("Clicked (3+)", 3), ("Engaged (10+)", 10))


def _combo(name: str, any_label: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    combo.setMinimumContentsLength(10)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.addItem(any_label, None)
    return combo


class LeadFilterBar(SavedViewsMixin, QWidget):
    saved_views_area = "leads"
    changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leadFilterBar")
        self.session = session
        self.lookups = sales_lookups(session)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)
        self._build()
        self.lookups.changed.connect(self._fill_lookups)
        self._fill_lookups()
        self._refill_views()
        tasks.spawn(self._load_people())

    # --- building --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.search = QLineEdit()
        self.search.setObjectName("leadSearch")
        self.search.setPlaceholderText("Search name, company, email or phone…")
        self.search.setAccessibleName("Search leads")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        self.owner = _combo("Owner", "Any owner")
        self.team = _combo("Team", "Any team")
        self.source = _combo("Source", "Any source")
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("Tag")
        self.tag.setAccessibleName("Tag")
        self.tag.setClearButtonEnabled(True)
        self.tag.setMaximumWidth(140)
        self.period = QComboBox()
        self.period.setAccessibleName("Created")
        for label, days in PERIODS:
            self.period.addItem(label, days)
        today = QDate.currentDate()
        self.created_from = DateEdit(today.addDays(-30))
        self.created_to = DateEdit(today)
        for edit, name in ((self.created_from, "Created from"), (self.created_to, "Created to")):
            edit.setAccessibleName(name)
            edit.setVisible(False)
            edit.dateChanged.connect(self._now)
        self.pipeline = _combo("Pipeline", "Default pipeline")
        self.pipeline.setVisible(False)
        self.engagement = QComboBox()
        self.engagement.setObjectName("leadsEngagement")
        self.engagement.setAccessibleName("Campaign engagement")
        self.engagement.setToolTip("Campaign engagement score: 1 a message opened, 3 a link clicked")
        for label, least in ENGAGEMENT:
            self.engagement.addItem(label, least)
        self.include_closed = QCheckBox("Show lost and junk")
        self.unassigned = QCheckBox("Unassigned only")
        self.unassigned.setObjectName("leadsUnassigned")
        self.unassigned.setToolTip("Only the open leads without an owner: the ones waiting to be assigned")
        self.views = _combo("Saved views", "Saved views")
        self.save_view = QPushButton("Save view…")
        self.save_view.setToolTip("Keep these filters under a name")
        self.clear = QPushButton("Clear all filters")
        self.clear.setObjectName("clearFilters")
        self.clear.setProperty("role", "link")

        first = QHBoxLayout()
        first.setSpacing(8)
        first.addWidget(self.search, 2)
        for widget in (self.owner, self.team, self.source, self.engagement, self.tag):
            first.addWidget(widget)
        second = QHBoxLayout()
        second.setSpacing(8)
        for control in (
            self.period,
            self.created_from,
            self.created_to,
            self.pipeline,
            self.unassigned,
            self.include_closed,
        ):
            second.addWidget(control)
        second.addStretch(1)
        for action in (self.clear, self.views, self.save_view):
            second.addWidget(action)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(first)
        layout.addLayout(second)

        self.search.textChanged.connect(self._soon)
        self.tag.textChanged.connect(self._soon)
        for combo in (self.owner, self.team, self.source, self.pipeline):
            combo.currentIndexChanged.connect(self._now)
        self.period.currentIndexChanged.connect(self._on_period)
        self.include_closed.toggled.connect(self._now)
        self.engagement.currentIndexChanged.connect(self._now)
        self.unassigned.toggled.connect(self._now)
        self.clear.clicked.connect(self.clear_all)
        self.views.activated.connect(self._pick_view)
        self.save_view.clicked.connect(self._ask_view_name)
        self._update_clear()

    def _soon(self) -> None:
        self._update_clear()
        self._debounce.start()

    def _now(self) -> None:
        self._debounce.stop()
        self._update_clear()
        self.changed.emit()

    def _on_period(self) -> None:
        custom = self.period.currentData() == -1
        self.created_from.setVisible(custom)
        self.created_to.setVisible(custom)
        self._now()

    def _update_clear(self) -> None:
        self.clear.setEnabled(self.is_narrowed() or self.include_closed.isChecked())

    # --- choices from the server -----------------------------------------------------------------

    def _fill_lookups(self) -> None:
        refill(self.source, [(s.name, s.name) for s in self.lookups.sources])
        pipelines = self.lookups.pipelines
        refill(self.pipeline, [(p.name, p.id) for p in pipelines if not p.is_default])
        default = self.lookups.default_pipeline()
        self.pipeline.setItemText(0, default.name if default is not None else "Default pipeline")
        self.pipeline.setVisible(len(pipelines) > 1)

    async def _load_people(self) -> None:
        api = self.session.api
        try:
            users = await auth.colleagues(api, active=True, limit=100)
            teams = await admin.list_teams(api)
        except ApiError as exc:
            log.info("owners and teams did not load: %s", exc.message)
            return
        if not shiboken6.isValid(self):
            return
        me = self.session.me.id
        people = sorted(users.items, key=lambda u: (u.id != me, u.full_name.lower()))
        refill(self.owner, [("Me" if u.id == me else u.full_name, u.id) for u in people])
        refill(self.team, [(t.name, t.id) for t in teams])

    # --- values ----------------------------------------------------------------------------------

    def _dates(self) -> tuple[date | None, date | None]:
        days = self.period.currentData()
        if days is None:
            return None, None
        if days == -1:
            return (cast(date, self.created_from.date().toPython()), cast(date, self.created_to.date().toPython()))
        today = date.today()
        return today - timedelta(days=int(days)), today

    def values(self) -> dict[str, Any]:
        """The LeadFilters query parameters, "any" left out."""
        first, last = self._dates()
        out: dict[str, Any] = {
            "pipeline_id": self.pipeline.currentData(),
            "owner_id": self.owner.currentData(),
            "unassigned": True if self.unassigned.isChecked() else None,
            "team_id": self.team.currentData(),
            "source": self.source.currentData(),
            "tag": self.tag.text().strip() or None,
            "created_from": first.isoformat() if first else None,
            "created_to": last.isoformat() if last else None,
            "include_closed": True if self.include_closed.isChecked() else None,
            "q": self.search.text().strip() or None,
            "min_engagement": self.engagement.currentData(),
        }
        return {key: value for key, value in out.items() if value is not None}

    def is_narrowed(self) -> bool:
        """Does any filter hide leads (so an empty board means "nothing matches", not "no leads")?"""
        values = self.values()
        return any(key in values for key in NARROWING)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (a saved view) and report one change."""
        widgets: list[QWidget] = [
            self.search,
            self.tag,
            self.owner,
            self.team,
            self.source,
            self.pipeline,
            self.period,
            self.include_closed,
            self.unassigned,
            self.created_from,
            self.created_to,
            self.engagement,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.search.setText(values.get("q") or "")
            self.tag.setText(values.get("tag") or "")
            select(self.owner, values.get("owner_id"))
            select(self.team, values.get("team_id"))
            select(self.source, values.get("source"))
            select(self.pipeline, values.get("pipeline_id"))
            self.include_closed.setChecked(bool(values.get("include_closed")))
            self.unassigned.setChecked(bool(values.get("unassigned")))
            self.engagement.setCurrentIndex(max(self.engagement.findData(values.get("min_engagement")), 0))
            first, last = values.get("created_from"), values.get("created_to")
            self.period.setCurrentIndex(self.period.findData(-1 if first or last else None))
            if first:
                self.created_from.setDate(QDate.fromString(first, "yyyy-MM-dd"))
            if last:
                self.created_to.setDate(QDate.fromString(last, "yyyy-MM-dd"))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        custom = self.period.currentData() == -1
        self.created_from.setVisible(custom)
        self.created_to.setVisible(custom)
        self._now()

    def clear_all(self) -> None:
        self.views.setCurrentIndex(0)
        self.set_values({})
