"""The filter bar of the Tickets page (the server's TicketFilters), quick views and saved views.

`values()` gives what the user chose, "any" left out, shared by the queue and the board: the
server's TicketFilters, including status "open" (new, assigned, in process or pending the customer)
and "urgent" (high or critical priority, or breaching).
Saved views are named sets of values kept in QSettings per user, like the leads filters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import shiboken6
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, tasks
from crm_desktop.api import admin, auth, tickets
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.session import Session
from crm_desktop.widgets.filter_bar import FlowLayout
from crm_desktop.widgets.saved_views import SavedViewsMixin, refill, select
from crm_server.contract.auth import Colleague
from crm_server.contract.tickets import Priority, TicketStatus

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300
OPEN = "open"  # the status choice "Open tickets": new, assigned, in process or pending the customer
# Quick views: a name and the values it stands for.
QUICK_VIEWS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("All open", {"status": OPEN}),
    ("My tickets", {"status": OPEN, "mine": True}),
    ("High priority and breaching", {"status": OPEN, "urgent": True}),
)
NOT_NARROWING = ("status", "archived")
ANY_STATUS = 1  # the status combo's "Any status" (the first is "Open tickets")


class TicketLookups:
    """The choices of the filter bar (people, teams, categories) and team names, loaded once per page."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.teams: dict[int, str] = {}
        self.categories: dict[int, str] = {}
        self.people: list[Colleague] = []
        self.loaded = False
        self._loading: asyncio.Future[None] | None = None
        self._failed: ApiError | None = None
        self._asked: set[int] = set()  # team ids the list was fetched again for

    async def load(self) -> None:
        """Fill the lists once, however many ask (the filter bar, the queue's first page, the board
        all wait on the same calls). Raises ApiError when they could not be read; the next call
        tries again."""
        if self._loading is None or (self._loading.done() and self._failed is not None):
            self._failed = None
            self._loading = asyncio.ensure_future(self._fetch())
        await asyncio.shield(self._loading)
        if self._failed is not None:
            raise self._failed

    async def ready(self) -> None:
        """Wait for the names before a list paints; when they cannot be read, the list still shows."""
        try:
            await self.load()
        except ApiError as exc:
            log.info("team names did not load: %s", exc.message)

    async def know_teams(self, team_ids: Iterable[int | None]) -> None:
        """``ready``, then the team list once more when a row names a team made since (an admin added it)."""
        await self.ready()
        new = {t for t in team_ids if t is not None and t not in self.teams} - self._asked
        if self.loaded and new:
            self._asked |= new  # asked once: a team the list does not name stays "team #id"
            try:
                self.teams = {t.id: t.name for t in await admin.list_teams(self.api)}
            except ApiError as exc:
                log.info("team names did not load: %s", exc.message)

    async def _fetch(self) -> None:
        try:
            people = (await auth.colleagues(self.api, active=True, limit=200)).items
            teams = {t.id: t.name for t in await admin.list_teams(self.api)}
            categories = {c.id: c.name for c in await tickets.list_categories(self.api)}
        except ApiError as exc:
            self._failed = exc
            return
        self.people, self.teams, self.categories = people, teams, categories
        self.loaded = True

    def team(self, team_id: int | None) -> str:
        return "" if team_id is None else self.teams.get(team_id, f"team #{team_id}")


def _combo(name: str, items: list[tuple[str, Any]]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    combo.setMinimumContentsLength(8)  # long team names must not push the search box off the row
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    for text, value in items:
        combo.addItem(text, value)
    return combo


class TicketFilterBar(SavedViewsMixin, QWidget):
    """Quick views over a row of filters; `changed` fires once per change (typing is debounced)."""

    saved_views_area = "tickets"
    changed = Signal()

    def __init__(self, session: Session, lookups: TicketLookups, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticketFilterBar")
        self.session = session
        self.lookups = lookups
        self._hidden: dict[str, Any] = {}  # "mine" / "urgent": set by quick and saved views only
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.changed)
        self._build()
        self.changed.connect(self._mark_quick_view)
        self._refill_views()
        self._mark_quick_view()
        tasks.spawn(self._load_lookups())

    # --- building --------------------------------------------------------------------------------

    def _build(self) -> None:
        quick = QWidget()
        quick.setObjectName("viewSwitch")
        row = QHBoxLayout(quick)
        row.setContentsMargins(3, 3, 3, 3)
        row.setSpacing(2)
        self.quick = QButtonGroup(self)
        self.quick.setExclusive(False)  # none is checked when the filters match no quick view
        self.quick_buttons: list[QPushButton] = []
        for index, (name, _values) in enumerate(QUICK_VIEWS):
            button = QPushButton(name)
            button.setCheckable(True)
            button.setProperty("role", "segment")
            bold = button.font()
            bold.setBold(True)  # checked segments are bold: room for that from the start
            width = QFontMetrics(bold).horizontalAdvance(name) + 4  # the theme's min-width wins over
            button.setStyleSheet(f"QPushButton {{ min-width: {width}px; }}")  # setMinimumWidth
            self.quick.addButton(button, index)
            self.quick_buttons.append(button)
            row.addWidget(button)
        self.quick.idClicked.connect(self.apply_quick_view)

        self.search = QLineEdit()
        self.search.setObjectName("ticketSearch")
        self.search.setPlaceholderText("Search #number or subject…")
        self.search.setAccessibleName("Search tickets")
        self.search.setClearButtonEnabled(True)
        self.status = _combo(
            "Status",
            [("Open tickets", OPEN), ("Any status", None), *((format.label(s), s.value) for s in TicketStatus)],
        )
        self.priority = _combo("Priority", [("Priority", None), *((format.label(p), p.value) for p in Priority)])
        self.team = _combo("Team", [("Team", None)])
        self.assignee = _combo("Assignee", [("Assignee", None)])
        self.category = _combo("Category", [("Category", None)])
        self.breaching = QCheckBox("Breaching SLA")
        self.breaching.setToolTip("Open, not answered yet, and due within 30 minutes or late")
        self.archived = QCheckBox("Archived")
        self.archived.setToolTip("Tickets closed long ago, kept out of the queue")
        self.views = _combo("Saved views", [("Saved views", None)])
        self.save_view = QPushButton("Save view…")
        self.save_view.setToolTip("Keep these filters under a name")
        self.clear = QPushButton("Clear all filters")
        self.clear.setObjectName("clearFilters")
        self.clear.setProperty("role", "link")

        first = QHBoxLayout()
        first.setSpacing(8)
        first.addWidget(quick)
        first.addSpacing(6)
        widgets: tuple[QWidget, ...] = (self.breaching, self.archived)
        for widget in widgets:
            first.addWidget(widget)
        first.addStretch(1)
        widgets = (self.views, self.save_view)
        for widget in widgets:
            first.addWidget(widget)
        second_row = QWidget()  # wraps when the window is narrow (a combo never covers the search box)
        second = FlowLayout(second_row)
        self.search.setMinimumWidth(220)
        widgets = (self.search, self.status, self.priority, self.team, self.assignee, self.category, self.clear)
        for widget in widgets:
            second.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(first)
        layout.addWidget(second_row)

        self.search.textChanged.connect(self._soon)
        for combo in (self.status, self.priority, self.team, self.assignee, self.category):
            combo.currentIndexChanged.connect(self._now)
        self.breaching.toggled.connect(self._now)
        self.archived.toggled.connect(self._now)
        self.clear.clicked.connect(self.clear_all)
        self.views.activated.connect(self._pick_view)
        self.save_view.clicked.connect(self._ask_view_name)

    def _soon(self) -> None:
        self._debounce.start()

    def _now(self) -> None:
        self._debounce.stop()
        self.changed.emit()

    async def _load_lookups(self) -> None:
        try:
            await self.lookups.load()
        except ApiError as exc:
            log.info("teams, people and categories did not load: %s", exc.message)
            return
        if not shiboken6.isValid(self):
            return
        me = self.session.me.id
        people = sorted(self.lookups.people, key=lambda u: (u.id != me, u.full_name.lower()))
        refill(self.assignee, [("Me" if u.id == me else u.full_name, u.id) for u in people])
        refill(self.team, sorted(((name, key) for key, name in self.lookups.teams.items()), key=lambda t: t[0].lower()))
        refill(self.category, [(name, key) for key, name in self.lookups.categories.items()])

    # --- values ----------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the user chose, "any" left out (see server_queries for the server's queries)."""
        out: dict[str, Any] = {
            "status": self.status.currentData(),
            "priority": self.priority.currentData(),
            "team_id": self.team.currentData(),
            "assignee_id": self.assignee.currentData(),
            "category_id": self.category.currentData(),
            "breaching": True if self.breaching.isChecked() else None,
            "archived": True if self.archived.isChecked() else None,
            "q": self.search.text().strip() or None,
            **self._hidden,
        }
        return {key: value for key, value in out.items() if value is not None}

    def is_narrowed(self) -> bool:
        """Does any filter hide tickets (so an empty queue means "nothing matches")?"""
        return any(key not in NOT_NARROWING for key in self.values())

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (a quick or saved view) and report one change."""
        widgets: list[QWidget] = [
            self.search,
            self.status,
            self.priority,
            self.team,
            self.assignee,
            self.category,
            self.breaching,
            self.archived,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.search.setText(values.get("q") or "")
            status = values.get("status")
            self.status.setCurrentIndex(ANY_STATUS if status is None else max(self.status.findData(status), 0))
            select(self.priority, values.get("priority"))
            select(self.team, values.get("team_id"))
            select(self.assignee, values.get("assignee_id"))
            select(self.category, values.get("category_id"))
            self.breaching.setChecked(bool(values.get("breaching")))
            self.archived.setChecked(bool(values.get("archived")))
            self._hidden = {k: True for k in ("mine", "urgent") if values.get(k)}
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._now()

    def clear_all(self) -> None:
        self.views.setCurrentIndex(0)
        self.set_values(dict(QUICK_VIEWS[0][1]))

    # --- quick views -----------------------------------------------------------------------------

    def apply_quick_view(self, index: int) -> None:
        self.views.setCurrentIndex(0)
        self.set_values(dict(QUICK_VIEWS[index][1]))

    def quick_view(self) -> str | None:
        """The quick view the filters show exactly, if any."""
        values = self.values()
        return next((name for name, preset in QUICK_VIEWS if preset == values), None)

    def _mark_quick_view(self) -> None:
        current = self.quick_view()
        for button in self.quick_buttons:
            button.setChecked(button.text() == current)
        self.clear.setEnabled(self.values() != QUICK_VIEWS[0][1])
