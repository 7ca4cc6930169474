"""The week calendar: seven day columns, Monday to Sunday in local time, each follow-up placed on its
day in time order, one line each (kind icon, time, who it is about; elided, the tooltip says all).
Whose week: mine, one person's, or everyone I can see. Everyone's week is too full for seven narrow
columns (at 1280 px a day is ~110 px: "08:19 Chia…"), so it is one full-width agenda instead: each
day, then each owner's name, then one line per follow-up (time, kind, who it is about).
Previous/next week with Alt+Left/Alt+Right, back to this week with Ctrl+T; a click (or Enter) on a
follow-up offers Complete, Reschedule and Open record.

The server is asked for exactly the shown week ([local Monday 00:00, next Monday 00:00) as UTC), so
a week of any size loads in one request; done follow-ups stay visible, struck through.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import groupby

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QKeySequence, QPainter, QShortcut, QTransform
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, theme
from crm_desktop.api import activities as activities_api
from crm_desktop.session import Session
from crm_desktop.views.activities.live_view import LiveFollowUpsView
from crm_desktop.views.activities.my_day import TONES, lateness, open_complete, open_reschedule, record_opener
from crm_desktop.views.activities.person_filter import PersonFilter, Whose
from crm_desktop.views.activities.schedule import kind_icon, local
from crm_server.contract.activities import FollowUpOut, FollowUpStatus

ID_ROLE = Qt.ItemDataRole.UserRole
NO_OWNER = "No owner"


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def local_midnight(day: date) -> datetime:
    """00:00 of ``day`` in local time, as an aware datetime (right across a DST change, too)."""
    return datetime.combine(day, time()).astimezone()


class DayColumn(QFrame):
    """One day: its name over the follow-ups due that day."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 4, 4)  # a day is narrow at 1280 px: room for the lines
        layout.setSpacing(6)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setProperty("role", "muted")
        layout.addWidget(self.title)
        self.list = QListWidget()
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setWordWrap(False)  # one line per follow-up, elided; the tooltip has the rest
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setIconSize(QSize(14, 14))
        self.list.setSpacing(2)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.list, 1)
        self.empty = QLabel("Free")
        self.empty.setProperty("role", "caption")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.empty, 1)
        self.empty.hide()  # until the week has loaded

    def show_day(self, day: date, today: bool) -> None:
        self.title.setText(format.weekday(day))
        self.title.setAccessibleName(format.day(day))
        self.title.setStyleSheet(f"color: {theme.current().token('accent_text')}; font-weight: 600;" if today else "")

    def texts(self) -> list[str]:
        """Every line of the day as shown."""
        return [self.list.item(i).text() for i in range(self.list.count())]


class WeekAgenda(QTreeWidget):
    """Everyone's week as one list: a row per day ("Wed 02 Dec · 23"), under it each owner's name, under
    that their follow-ups one full-width line each: time, kind, who it is about."""

    COLUMNS = ("Time", "Kind", "About")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("weekAgenda")
        self.setColumnCount(len(self.COLUMNS))
        self.setHeaderLabels(list(self.COLUMNS))
        self.setRootIsDecorated(False)
        self.setItemsExpandable(False)
        self.setIndentation(14)
        self.setIconSize(QSize(16, 16))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAllColumnsShowFocus(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.header()
        header.setStretchLastSection(True)
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.days: dict[date, QTreeWidgetItem] = {}

    def add_day(self, day: date, count: int, today: bool) -> QTreeWidgetItem:
        said = f"{count} follow-up{'' if count == 1 else 's'}" if count else "nothing planned"
        row = self._heading(f"{format.weekday(day)} · {said}", "accent_text" if today else "text", gap=14)
        row.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{format.day(day)}, {said}")
        self.addTopLevelItem(row)
        row.setFirstColumnSpanned(True)
        self.days[day] = row
        return row

    def add_person(self, day_row: QTreeWidgetItem, name: str) -> QTreeWidgetItem:
        row = self._heading(name, "muted", gap=6)
        row.setToolTip(0, f"{name}'s follow-ups")
        day_row.addChild(row)
        row.setFirstColumnSpanned(True)
        return row

    def line(self, row: QTreeWidgetItem, gap: int = 6, column: int = 2) -> QTreeWidgetItem:
        """A row as tall as a line of text and ``gap`` (the lists' breathing room); the hint sits on a
        column whose width it does not decide (About stretches; a heading spans the row)."""
        row.setSizeHint(column, QSize(0, self.fontMetrics().height() + gap))
        return row

    def _heading(self, text: str, tone: str, gap: int) -> QTreeWidgetItem:
        row = self.line(QTreeWidgetItem([text]), gap, column=0)
        row.setFlags(Qt.ItemFlag.ItemIsEnabled)  # not a follow-up: not selectable
        row.setTextAlignment(0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        font = QFont(self.font())
        font.setBold(True)
        row.setFont(0, font)
        row.setForeground(0, QBrush(QColor(theme.current().token(tone))))
        return row

    def drawBranches(self, painter: QPainter, rect: QRect, index: QModelIndex | QPersistentModelIndex) -> None:
        """No open/close arrows: the days and names are headings, always open (itemsExpandable is off)."""

    def texts(self, day: date) -> list[str]:
        """A day as shown: owners' names and their follow-ups as "08:00 Ana Pop (Acme)"."""
        out: list[str] = []
        day_row = self.days.get(day)
        for p in range(day_row.childCount() if day_row is not None else 0):
            person = day_row.child(p) if day_row is not None else None
            if person is None:
                continue
            out.append(person.text(0))
            out += [f"{row.text(0)} {row.text(2)}" for row in _children(person)]
        return out

    def rows(self) -> list[QTreeWidgetItem]:
        """Every follow-up line, in order."""
        return [row for day in _children(self.invisibleRootItem()) for p in _children(day) for row in _children(p)]


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for i in range(item.childCount()) if (child := item.child(i)) is not None]


class WeekView(LiveFollowUpsView):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.monday = week_start(datetime.now().astimezone().date())
        self.items: list[FollowUpOut] = []
        self.menu: QMenu | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 16, 0, 0)
        layout.setSpacing(12)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.previous_button = QPushButton(icons.icon("chevron-left"), "")
        self.previous_button.setToolTip("Previous week (Alt+Left)")
        self.previous_button.setAccessibleName("Previous week")
        self.next_button = QPushButton(_mirrored("chevron-left"), "")
        self.next_button.setToolTip("Next week (Alt+Right)")
        self.next_button.setAccessibleName("Next week")
        self.today_button = QPushButton("Today")
        self.today_button.setToolTip("This week (Ctrl+T)")
        self.range_label = QLabel()
        self.range_label.setProperty("role", "heading")
        self.person = PersonFilter(session)
        self.person.changed.connect(self.reload)
        self.previous_button.clicked.connect(lambda: self.go(-1))
        self.next_button.clicked.connect(lambda: self.go(1))
        self.today_button.clicked.connect(self.this_week)
        bar.addWidget(self.today_button)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addSpacing(8)
        bar.addWidget(self.range_label)
        bar.addStretch(1)
        bar.addWidget(self.person)
        layout.addLayout(bar)

        self.week_grid = QWidget()
        grid = QHBoxLayout(self.week_grid)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.columns = [DayColumn() for _ in range(7)]
        for column in self.columns:
            column.list.itemClicked.connect(self._chosen)
            column.list.itemActivated.connect(self._chosen)
            grid.addWidget(column, 1)
        self.agenda = WeekAgenda()  # everyone's week
        self.agenda.itemClicked.connect(self._chosen_row)
        self.agenda.itemActivated.connect(self._chosen_row)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.week_grid)
        self.stack.addWidget(self.agenda)
        layout.addWidget(self.stack, 1)

        for keys, slot in (
            ("Alt+Left", lambda: self.go(-1)),
            ("Alt+Right", lambda: self.go(1)),
            ("Ctrl+T", self.this_week),
        ):
            QShortcut(QKeySequence(keys), self).activated.connect(slot)
        self._show_range()

    # --- moving through weeks --------------------------------------------------------------------

    def go(self, weeks: int) -> None:
        self.monday += timedelta(weeks=weeks)
        self._show_range()
        self.reload()

    def this_week(self) -> None:
        self.monday = week_start(datetime.now().astimezone().date())
        self._show_range()
        self.reload()

    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    def _show_range(self) -> None:
        sunday = self.monday + timedelta(days=6)
        self.range_label.setText(f"{format.short_day(self.monday, today=sunday)} – {format.day(sunday)}")
        today = datetime.now().astimezone().date()
        for column, day in zip(self.columns, self.days(), strict=True):
            column.show_day(day, day == today)

    # --- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        if self.person.ready():  # "One person…" with nobody picked yet: nothing to ask
            super().reload()

    def is_busy(self) -> bool:
        return super().is_busy() or self.person.is_busy()

    def grouped(self) -> bool:
        """Everyone's week: each day groups its follow-ups under their owners' names."""
        return self.person.whose() is Whose.everyone

    async def fetch(self) -> list[FollowUpOut]:
        monday = self.monday
        return await activities_api.calendar(
            self.api,
            local_midnight(monday),
            local_midnight(monday + timedelta(days=7)),
            owner_id=self.person.owner_id(),
        )

    def show_data(self, items: list[FollowUpOut]) -> None:
        self.items = list(items)
        self._render()

    # --- showing ---------------------------------------------------------------------------------

    def _render(self) -> None:
        now = datetime.now().astimezone()
        for column in self.columns:
            column.list.clear()
        days: list[list[FollowUpOut]] = [[] for _ in range(7)]
        for follow_up in self.items:
            index = (local(follow_up.due_at).date() - self.monday).days
            if 0 <= index < 7:
                days[index].append(follow_up)
        if self.grouped():
            self._render_agenda(days, now)
            return
        self.stack.setCurrentWidget(self.week_grid)
        for column, items in zip(self.columns, days, strict=True):
            for follow_up in sorted(items, key=lambda f: (f.due_at, f.id)):
                column.list.addItem(self._item(follow_up, local(follow_up.due_at), now))
        for column in self.columns:
            free = column.list.count() == 0
            column.list.setVisible(not free)
            column.empty.setVisible(free)

    def _render_agenda(self, days: list[list[FollowUpOut]], now: datetime) -> None:
        """Everyone's week: day, then owner (by name), then their follow-ups by time."""
        self.agenda.clear()
        self.agenda.days.clear()
        for day, items in zip(self.days(), days, strict=True):
            day_row = self.agenda.add_day(day, len(items), day == now.date())
            items.sort(key=lambda f: (_owner(f).casefold(), f.owner_id or 0, f.due_at, f.id))
            for (name, _id), theirs in groupby(items, key=lambda f: (_owner(f), f.owner_id)):
                person = self.agenda.add_person(day_row, name)
                for follow_up in theirs:
                    person.addChild(self._row(follow_up, local(follow_up.due_at), now))
        self.agenda.expandAll()
        self.stack.setCurrentWidget(self.agenda)

    def _row(self, follow_up: FollowUpOut, due: datetime, now: datetime) -> QTreeWidgetItem:
        """A follow-up's line in everyone's week: the day column's item, in three columns."""
        line = self._item(follow_up, due, now)
        kind = format.label(follow_up.kind)
        row = self.agenda.line(QTreeWidgetItem([format.clock(due), kind, follow_up.subject or format.EMPTY]))
        row.setIcon(1, line.icon())
        row.setData(0, ID_ROLE, follow_up.id)
        row.setData(0, Qt.ItemDataRole.AccessibleTextRole, line.data(Qt.ItemDataRole.AccessibleTextRole))
        for column in range(len(WeekAgenda.COLUMNS)):
            row.setToolTip(column, line.toolTip())
            row.setFont(column, line.font())
            if line.foreground().style() != Qt.BrushStyle.NoBrush:
                row.setForeground(column, line.foreground())
            if line.background().style() != Qt.BrushStyle.NoBrush:
                row.setBackground(column, line.background())
        return row

    def _item(self, follow_up: FollowUpOut, due: datetime, now: datetime) -> QListWidgetItem:
        kind = format.label(follow_up.kind)
        at = format.clock(due)
        subject = follow_up.subject or format.EMPTY
        item = QListWidgetItem(icons.icon(kind_icon(follow_up.kind)), f"{at} {subject}")
        item.setData(ID_ROLE, follow_up.id)
        said = f"{kind} at {at}, {format.weekday(due.date())}: {subject}\nOwner: {_owner(follow_up)}"
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{kind} at {at}, {subject}, {_owner(follow_up)}")
        notes = follow_up.notes.strip()
        item.setToolTip(said + (f"\n{notes}" if notes else ""))
        if follow_up.status == FollowUpStatus.done:
            font = QFont(item.font())
            font.setStrikeOut(True)
            item.setFont(font)
            item.setForeground(QBrush(QColor(theme.current().token("muted"))))
            outcome = f"\nDone: {follow_up.outcome}" if follow_up.outcome else "\nDone."
            item.setToolTip(said + outcome)
        else:  # open: toned by how late, as in My day
            text, background = TONES.get(lateness(due, now), (None, None))
            if text is not None:
                item.setForeground(QBrush(QColor(theme.current().token(text))))
            if background is not None:
                item.setBackground(QBrush(QColor(theme.current().token(background))))
        return item

    def follow_up(self, follow_up_id: int) -> FollowUpOut | None:
        return next((f for f in self.items if f.id == follow_up_id), None)

    # --- acting on a follow-up -------------------------------------------------------------------

    def _chosen(self, item: QListWidgetItem) -> None:
        if self.menu is not None and self.menu.isVisible():
            return  # a click that is also an activation: one menu is enough
        chosen = item.data(ID_ROLE)
        follow_up = self.follow_up(int(chosen)) if chosen is not None else None  # None: a person's name
        if follow_up is None:
            return
        source = item.listWidget()
        self.menu = self.actions_menu(follow_up)
        self.menu.popup(source.viewport().mapToGlobal(source.visualItemRect(item).bottomLeft() + QPoint(8, 0)))

    def _chosen_row(self, row: QTreeWidgetItem) -> None:
        """A click (or Enter) on a line of everyone's week."""
        if self.menu is not None and self.menu.isVisible():
            return
        chosen = row.data(0, ID_ROLE)
        follow_up = self.follow_up(int(chosen)) if chosen is not None else None  # None: a day or a name
        if follow_up is None:
            return
        self.menu = self.actions_menu(follow_up)
        at = self.agenda.visualItemRect(row).bottomLeft() + QPoint(8, 0)
        self.menu.popup(self.agenda.viewport().mapToGlobal(at))

    def actions_menu(self, follow_up: FollowUpOut) -> QMenu:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        is_open = follow_up.status == FollowUpStatus.open and self.session.can("activities", "edit")
        complete = menu.addAction(
            icons.icon("check"), "Complete…", lambda: open_complete(self, self.session, follow_up)
        )
        complete.setEnabled(is_open)
        reschedule = menu.addAction(
            icons.icon("refresh"), "Reschedule…", lambda: open_reschedule(self, self.session, follow_up)
        )
        reschedule.setEnabled(is_open)
        opener = record_opener(follow_up)
        record = menu.addAction(
            icons.icon("leads"), "Open record", lambda: opener(self, self.session) if opener is not None else None
        )
        record.setEnabled(opener is not None)
        return menu


def _owner(follow_up: FollowUpOut) -> str:
    return follow_up.owner_name or NO_OWNER


def _mirrored(name: str) -> QIcon:
    """The left chevron turned to the right (the icon set has one direction only)."""
    pixmap = icons.icon(name).pixmap(QSize(16, 16))
    return QIcon(pixmap.transformed(QTransform().scale(-1, 1)))
