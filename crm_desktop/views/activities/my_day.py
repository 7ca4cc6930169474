"""My day: the signed-in user's overdue follow-ups, most overdue first and toned by how late they are
(a week or more: danger; a day or more: warning; less than a day: warning text), then the rest of
today's by time, with Complete (Ctrl+Enter), Reschedule (Ctrl+R) and Open record (Ctrl+O). A
manager may look at a teammate's day instead (the person filter; the server's scope decides).

"Today" is the server's answer for the user's time zone, so a late-evening call never slips into the
wrong day. The list reloads on the "activities" change-bus areas (my changes and other desktops'),
and once a minute while it is shown, so what just became due moves up to Overdue on its own.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, theme
from crm_desktop.api import activities as activities_api
from crm_desktop.api.client import ApiError
from crm_desktop.session import Session
from crm_desktop.views.activities.live_view import LiveFollowUpsView
from crm_desktop.views.activities.person_filter import PersonFilter
from crm_desktop.views.activities.schedule import (
    CompleteDialog,
    RescheduleDialog,
    kind_icon,
    local,
    local_zone_name,
)
from crm_desktop.widgets.empty_state import EmptyState
from crm_server.contract.activities import FollowUpOut, MyDay

log = logging.getLogger(__name__)
ID_ROLE = Qt.ItemDataRole.UserRole
REFRESH_MS = 60_000


class Lateness(IntEnum):
    """How overdue a follow-up is; a row's tone says it (theme tokens: text, background)."""

    on_time = 0
    hours = 1  # due earlier, less than a day ago
    days = 2  # a day or more
    week = 3  # a week or more


TONES: dict[Lateness, tuple[str, str | None]] = {
    Lateness.hours: ("warning_text", None),
    Lateness.days: ("warning_text", "warning_bg"),
    Lateness.week: ("danger", "danger_soft"),
}


def lateness(due: datetime, now: datetime) -> Lateness:
    late = now - due
    if late <= timedelta(0):
        return Lateness.on_time
    if late >= timedelta(days=7):
        return Lateness.week
    return Lateness.days if late >= timedelta(days=1) else Lateness.hours


# --- what every follow-up view offers (the week calendar uses these too) -------------------------


def record_opener(follow_up: FollowUpOut) -> Callable[[QWidget, Session], None] | None:
    """How to open the lead or client a follow-up is about; None while that screen is not built."""
    targets = (
        (follow_up.client_id, "crm_desktop.views.clients.detail", "open_client"),
        (follow_up.lead_id, "crm_desktop.views.leads.detail", "open_lead"),
    )
    for record_id, module_name, function in targets:
        if not record_id:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        opener = getattr(module, function, None)
        if callable(opener):

            def open_record(parent: QWidget, session: Session, _open: Any = opener, _id: int = record_id) -> None:
                _open(parent, session, _id)

            return open_record
    return None


def open_complete(parent: QWidget, session: Session, follow_up: FollowUpOut) -> CompleteDialog:
    dialog = CompleteDialog(session.api, follow_up, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_reschedule(parent: QWidget, session: Session, follow_up: FollowUpOut) -> RescheduleDialog:
    dialog = RescheduleDialog(session.api, follow_up, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


# --- the view ------------------------------------------------------------------------------------


class MyDayView(LiveFollowUpsView):
    COLUMNS = ("When", "Late", "Kind", "About", "Notes")

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.overdue: list[FollowUpOut] = []
        self.today: list[FollowUpOut] = []
        self._shown: list[int] = []
        self.due: str | None = None  # "today" or "overdue": only that group (a Home figure's filter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 16, 0, 0)
        layout.setSpacing(12)
        head = QHBoxLayout()
        head.setSpacing(8)
        words = QVBoxLayout()
        words.setSpacing(2)
        self.date_label = QLabel(format.weekday(datetime.now().astimezone().date()))
        self.date_label.setProperty("role", "heading")
        self.summary = QLabel("Loading…")
        self.summary.setProperty("role", "muted")
        self.summary.setWordWrap(True)  # a busy day's summary is long: it wraps, never widens the window
        words.addWidget(self.date_label)
        words.addWidget(self.summary)
        head.addLayout(words, 1)
        self.show_all = QPushButton("Show all", self)
        self.show_all.setObjectName("myDayShowAll")
        self.show_all.setProperty("role", "link")
        self.show_all.setToolTip("Show both the overdue follow-ups and today's")
        self.show_all.clicked.connect(lambda: self.show_due(None))
        head.addWidget(self.show_all, 0, Qt.AlignmentFlag.AlignBottom)
        self.show_all.setVisible(False)
        self.person = PersonFilter(session, everyone=False)
        self.person.changed.connect(self.reload)
        head.addWidget(self.person, 0, Qt.AlignmentFlag.AlignBottom)
        head.addSpacing(8)
        self.complete_button = self._button("Complete", "check", "Ctrl+Enter", self.complete_selected, primary=True)
        self.reschedule_button = self._button("Reschedule", "refresh", "Ctrl+R", self.reschedule_selected)
        self.open_button = self._button("Open record", "leads", "Ctrl+O", self.open_selected)
        for button in (self.open_button, self.reschedule_button, self.complete_button):
            head.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(head)

        self.tree = QTreeWidget()
        self.tree.setObjectName("myDayList")
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(list(self.COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setItemsExpandable(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(16, 16))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(3, 280)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.tree.itemDoubleClicked.connect(lambda *_: self.complete_selected())
        self.empty = EmptyState(
            "check",
            "Nothing due today",
            "No follow-ups are due today and none are overdue. "
            "Schedule one from a lead or a client and it shows up here on its day.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        for keys, slot in (
            ("Ctrl+Return", self.complete_selected),
            ("Ctrl+Enter", self.complete_selected),
            ("Ctrl+R", self.reschedule_selected),
            ("Ctrl+O", self.open_selected),
        ):
            QShortcut(QKeySequence(keys), self).activated.connect(slot)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.reload() if self.isVisible() else None)
        self.timer.start()
        self._update_buttons()

    def _button(
        self, text: str, icon: str, keys: str, slot: Callable[[], object], primary: bool = False
    ) -> QPushButton:
        button = QPushButton(icons.icon(icon), text)
        button.setToolTip(f"{text} ({keys})")
        if primary:
            button.setProperty("role", "primary")
            button.setIcon(icons.icon(icon, theme.current().token("on_accent")))
        button.clicked.connect(slot)
        return button

    # --- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        if self.person.ready():  # "One person…" with nobody picked yet: nothing to ask
            super().reload()

    async def fetch(self) -> MyDay:
        owner_id = self.person.owner_id()
        return await activities_api.my_day(
            self.api, local_zone_name(), owner_id=owner_id if owner_id != self.session.me.id else None
        )

    def is_busy(self) -> bool:
        return super().is_busy() or self.person.is_busy()

    def load_failed(self, error: ApiError) -> None:
        self.summary.setText("Could not load your day.")
        super().load_failed(error)

    def show_data(self, day: MyDay) -> None:
        # Most overdue first, then today's by time (the server sends them so; the order is this view's rule).
        self.overdue = sorted(day.overdue, key=lambda f: (f.due_at, f.id))
        self.today = sorted(day.today, key=lambda f: (f.due_at, f.id))
        self._render()

    # --- showing ---------------------------------------------------------------------------------

    def _render(self) -> None:
        keep = self.selected_id()
        keep_row = self._shown.index(keep) if keep in self._shown else 0  # where the finished one was
        self._shown = [f.id for f in self.overdue + self.today]
        self.tree.clear()
        now = datetime.now().astimezone()
        self.date_label.setText(format.weekday(now.date()))
        groups = tuple(
            g
            for g in (("Overdue", self.overdue, True), ("Today", self.today, False))
            if self.due is None or g[0].lower() == self.due
        )
        chosen: QTreeWidgetItem | None = None
        rows: list[QTreeWidgetItem] = []
        for title, items, late in groups:
            if not items:
                continue
            group = QTreeWidgetItem([f"{title} · {len(items)}"])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = QFont(self.tree.font())
            font.setBold(True)
            group.setFont(0, font)
            if late:
                group.setForeground(0, QBrush(QColor(theme.current().token("danger"))))
            self.tree.addTopLevelItem(group)
            group.setFirstColumnSpanned(True)
            for follow_up in items:
                row = self._row(follow_up, now)
                group.addChild(row)
                rows.append(row)
                if follow_up.id == keep:
                    chosen = row
            group.setExpanded(True)
        if chosen is None and rows:
            chosen = rows[min(keep_row, len(rows) - 1)]
        if chosen is not None:
            self.tree.setCurrentItem(chosen)
        count = len(self.shown_ids())
        self.stack.setCurrentWidget(self.tree if count else self.empty)
        parts = []
        if self.overdue:
            parts.append(f"{len(self.overdue)} overdue")
        if self.today:
            parts.append(f"{len(self.today)} due today")
        whose = self.person.person_name()
        said = ", ".join(parts) if parts else "All clear."
        self.summary.setText(f"{whose}: {said[:1].lower()}{said[1:]}" if whose else said)
        self._update_buttons()

    def show_due(self, due: str | None) -> None:
        """Only the overdue follow-ups ("overdue"), only today's ("today"), or both (None)."""
        self.due = due if due in ("today", "overdue") else None
        self.show_all.setVisible(self.due is not None)
        self._render()

    def shown_ids(self) -> list[int]:
        return [
            f.id for f in (self.overdue if self.due != "today" else []) + (self.today if self.due != "overdue" else [])
        ]

    def _row(self, follow_up: FollowUpOut, now: datetime) -> QTreeWidgetItem:
        due = local(follow_up.due_at)
        when = format.clock(due) if due.date() == now.date() else f"{format.weekday(due)}, {format.clock(due)}"
        late = lateness(due, now)
        late_by = format.duration(now - due, parts=1) if late else ""
        notes = " ".join(follow_up.notes.split())
        kind = format.label(follow_up.kind)
        row = QTreeWidgetItem([when, late_by, kind, follow_up.subject or format.EMPTY, notes])
        row.setData(0, ID_ROLE, follow_up.id)
        row.setData(1, ID_ROLE, int(late))
        row.setIcon(2, icons.icon(kind_icon(follow_up.kind)))
        row.setToolTip(0, format.moment(due))
        row.setToolTip(4, follow_up.notes)
        row.setData(
            0,
            Qt.ItemDataRole.AccessibleTextRole,
            f"{f'Overdue by {late_by}: ' if late else ''}{when} {kind} {follow_up.subject}",
        )
        text, background = TONES.get(late, (None, None))
        for column in range(len(self.COLUMNS)):
            if text is not None:
                row.setForeground(column, QBrush(QColor(theme.current().token(text))))
            if background is not None:
                row.setBackground(column, QBrush(QColor(theme.current().token(background))))
        return row

    def lateness_of(self, follow_up_id: int) -> Lateness | None:
        """How late the row of ``follow_up_id`` says it is (None when it is not shown)."""
        for index in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(index)
            for child in range(group.childCount() if group is not None else 0):
                item = group.child(child) if group is not None else None
                if item is not None and item.data(0, ID_ROLE) == follow_up_id:
                    return Lateness(int(item.data(1, ID_ROLE)))
        return None

    # --- acting on the selection -----------------------------------------------------------------

    def selected_id(self) -> int | None:
        item = self.tree.currentItem()
        value = item.data(0, ID_ROLE) if item is not None else None
        return int(value) if value is not None else None

    def selected(self) -> FollowUpOut | None:
        wanted = self.selected_id()
        return next((f for f in self.overdue + self.today if f.id == wanted), None)

    def select(self, follow_up_id: int) -> bool:
        for index in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(index)
            if group is None:
                continue
            for child in range(group.childCount()):
                item = group.child(child)
                if item is not None and item.data(0, ID_ROLE) == follow_up_id:
                    self.tree.setCurrentItem(item)
                    return True
        return False

    def _update_buttons(self) -> None:
        follow_up = self.selected()
        may_edit = self.session.can("activities", "edit")
        self.complete_button.setEnabled(follow_up is not None and may_edit)
        self.reschedule_button.setEnabled(follow_up is not None and may_edit)
        opener = record_opener(follow_up) if follow_up is not None else None
        self.open_button.setEnabled(opener is not None)
        self.open_button.setToolTip(
            "Open record (Ctrl+O)"
            if opener is not None or follow_up is None
            else "This record's screen is not available in this version"
        )

    def complete_selected(self) -> CompleteDialog | None:
        follow_up = self.selected()
        if follow_up is None or not self.complete_button.isEnabled():
            return None
        return open_complete(self, self.session, follow_up)

    def reschedule_selected(self) -> RescheduleDialog | None:
        follow_up = self.selected()
        if follow_up is None or not self.reschedule_button.isEnabled():
            return None
        return open_reschedule(self, self.session, follow_up)

    def open_selected(self) -> None:
        follow_up = self.selected()
        opener = record_opener(follow_up) if follow_up is not None else None
        if opener is not None:
            opener(self, self.session)
