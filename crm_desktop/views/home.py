"""Home: the signed-in person's widgets as cards (GET /api/home), the first module of the sidebar
(Ctrl+1) and where everyone lands on sign-in. Figures are big and each one is a button that opens
the list behind it with the server's filter; a widget with a breakdown shows a small table. The
page reloads when a change reaches one of the areas it counts (this desktop's or another's, via the
change bus), and on F5.

"Customise" hides, shows and reorders widgets. The layout is kept per user in QSettings on this
computer (the server has no per-user store for layouts yet)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QMouseEvent, QResizeEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, icons, operations, tasks, theme
from crm_desktop.api import auth
from crm_desktop.api import home as home_api
from crm_desktop.api import leads as leads_api
from crm_desktop.api.client import ApiError
from crm_desktop.operations import change_bus
from crm_desktop.session import Session
from crm_desktop.widgets.empty_state import EmptyState
from crm_server.contract.home import HomeFigure, HomeOut, HomeWidget
from crm_server.contract.leads import BulkRequest, BulkResult, LeadQuery

log = logging.getLogger(__name__)

BULK_LIMIT = 500  # the most leads one Assign hands over (a list page's most)
CARD_WIDTH = 400  # a column of cards per this many pixels
TONES = {"bad": "danger", "warn": "warning_text", "good": "success", "normal": "text"}


def figure_text(figure: HomeFigure) -> str:
    """The figure's value in words: money, a count, bytes as GB, or the server's text."""
    if figure.kind == "money":
        return format.money(Decimal(str(figure.value)), figure.currency)
    if figure.kind == "bytes":
        return f"{format.number((Decimal(int(figure.value)) / 1024**3).quantize(Decimal('0.1')))} GB"
    if figure.kind == "count":
        return format.number(figure.value if not isinstance(figure.value, str) else Decimal(figure.value))
    return str(figure.value)


class FigureButton(QFrame):
    """A big figure over its label; clicked (or Enter/Space with focus): open the list behind it."""

    clicked = Signal()

    def __init__(self, figure: HomeFigure, parent: QWidget) -> None:
        super().__init__(parent)
        self.figure = figure
        self.setObjectName("homeFigure")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus if figure.module else Qt.FocusPolicy.NoFocus)
        if figure.module:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 6, 8, 6)
        column.setSpacing(0)
        self.value = QLabel(figure_text(figure), self)
        self.value.setObjectName("homeFigureValue")
        color = theme.current().token(TONES.get(figure.tone, "text"))
        size = 15 if figure.kind == "money" or len(self.value.text()) > 10 else 21
        self.value.setStyleSheet(f"font-size: {size}pt; font-weight: 600; color: {color};")
        self.caption = QLabel(figure.label, self)
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        column.addWidget(self.value)
        column.addWidget(self.caption)
        if figure.detail:
            detail = QLabel(figure.detail, self)
            detail.setProperty("role", "caption")
            detail.setWordWrap(True)
            column.addWidget(detail)
        column.addStretch(1)
        where = f" Click to open {format.label(figure.module)}." if figure.module else ""
        self.setToolTip(f"{figure.label}: {self.value.text()}.{where}")
        self.setAccessibleName(f"{figure.label}: {self.value.text()}")
        hover, border = theme.current().token("hover"), theme.current().token("border_strong")
        self.setStyleSheet(
            "#homeFigure { border: 1px solid transparent; border-radius: 6px; }"
            + (
                f"#homeFigure:hover, #homeFigure:focus {{ background: {hover}; border-color: {border}; }}"
                if figure.module
                else ""
            )
        )

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)


class HomeCard(QFrame):
    """One widget: its title, its figures in a row, maybe a small table, or what to say when empty."""

    open_list = Signal(object)  # HomeFigure

    def __init__(self, widget: HomeWidget, parent: QWidget) -> None:
        super().__init__(parent)
        self.widget = widget
        self.setObjectName(f"home_{widget.key}")
        self.setProperty("role", "card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        title = QLabel(widget.title, self)
        title.setProperty("role", "section")
        layout.addWidget(title)
        row = QGridLayout()
        row.setSpacing(4)
        self.figures: dict[str, FigureButton] = {}
        per_row = 3 if len(widget.figures) != 4 else 2
        for i, figure in enumerate(widget.figures):
            button = FigureButton(figure, self)
            button.clicked.connect(partial(self.open_list.emit, figure))
            self.figures[figure.key] = button
            row.addWidget(button, i // per_row, i % per_row)
        layout.addLayout(row)
        self.action_row = QHBoxLayout()
        self.action_row.setSpacing(6)
        layout.addLayout(self.action_row)
        # Money comes as text ("0.00"): zero when its Decimal is.
        quiet = all(Decimal(str(f.value)) == 0 for f in widget.figures if f.kind in ("count", "money"))
        if widget.table is not None and widget.table.rows:
            layout.addWidget(self._table(widget))
        elif widget.empty and quiet:
            note = QLabel(widget.empty, self)
            note.setProperty("role", "muted")
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addStretch(1)

    def add_action(self, text: str, name: str, tip: str) -> QPushButton:
        """A button under the figures (e.g. "Assign…" on the new leads)."""
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setToolTip(tip)
        self.action_row.addWidget(button)
        self.action_row.addStretch(1)
        return button

    def _table(self, widget: HomeWidget) -> QTableWidget:
        assert widget.table is not None
        table = QTableWidget(len(widget.table.rows), len(widget.table.columns), self)
        table.setObjectName("homeTable")
        table.setHorizontalHeaderLabels(widget.table.columns)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(widget.table.columns)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        kinds = widget.table.kinds
        for r, values in enumerate(widget.table.rows):
            for c, cell in enumerate(values):
                money = c < len(kinds) and kinds[c] == "money"
                if money:
                    text = format.money(Decimal(str(cell)), widget.table.currency) if cell != "" else format.EMPTY
                else:
                    text = format.number(cell) if isinstance(cell, int) else str(cell)
                item = QTableWidgetItem(text)
                if isinstance(cell, int) or money:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
        table.resizeRowsToContents()
        shown = min(len(widget.table.rows), 6)
        height = header.sizeHint().height() + sum(table.rowHeight(r) for r in range(shown)) + 4
        table.setFixedHeight(height)
        return table


class HomePage(QWidget):
    loaded = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("homePage")
        self.session = session
        self.data: HomeOut | None = None
        self.cards: dict[str, HomeCard] = {}
        self.loads = 0
        self._loading = False
        self._stale = False
        self._columns = 0
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 26, 32, 16)
        root.setSpacing(12)
        head = QHBoxLayout()
        words = QVBoxLayout()
        words.setSpacing(2)
        title = QLabel(f"Good {self._part_of_day()}, {session.me.full_name.split(' ')[0]}", self)
        title.setProperty("role", "title")
        self.updated = QLabel("Loading…", self)
        self.updated.setProperty("role", "muted")
        words.addWidget(title)
        words.addWidget(self.updated)
        head.addLayout(words, 1)
        self.customise = QToolButton(self)
        self.customise.setObjectName("homeCustomise")
        self.customise.setText("Customise")
        self.customise.setIcon(icons.icon("settings"))
        self.customise.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.customise.setToolTip("Hide, show or reorder the widgets")
        self.customise.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.customise)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.customise.setMenu(self.menu)
        refresh = QPushButton("Refresh", self)
        refresh.setToolTip("Read the figures again (F5)")
        refresh.clicked.connect(self.reload)
        head.addWidget(refresh, 0, Qt.AlignmentFlag.AlignBottom)
        head.addWidget(self.customise, 0, Qt.AlignmentFlag.AlignBottom)
        root.addLayout(head)
        self.area = QScrollArea(self)
        self.area.setWidgetResizable(True)
        self.area.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget(self.area)
        self.body.setObjectName("homeBody")
        self.grid = QGridLayout(self.body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(12)
        self.area.setWidget(self.body)
        root.addWidget(self.area, 1)
        self.empty = EmptyState(
            "home",
            "Nothing to show on Home",
            "Your role has no figures on Home, or you hid them all: choose Customise to show them again.",
            parent=self,
        )
        self.empty.setVisible(False)
        root.addWidget(self.empty, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(800)
        self._debounce.timeout.connect(self.reload)
        change_bus().changed.connect(self._on_changed)
        here = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence("F5"), self, context=here).activated.connect(self.reload)
        self.reload()

    @staticmethod
    def _part_of_day() -> str:
        hour = datetime.now().hour
        return "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"

    # --- layout kept per user --------------------------------------------------------------------

    def _key(self, what: str) -> str:
        return f"home/{self.session.me.id}/{what}"

    def hidden(self) -> set[str]:
        value = QSettings().value(self._key("hidden"), "")
        return {k for k in str(value or "").split(",") if k}

    def order(self) -> list[str]:
        value = QSettings().value(self._key("order"), "")
        return [k for k in str(value or "").split(",") if k]

    def set_hidden(self, key: str, hidden: bool) -> None:
        keys = self.hidden() - {key} | ({key} if hidden else set())
        QSettings().setValue(self._key("hidden"), ",".join(sorted(keys)))
        self._place()

    def move_widget(self, key: str, step: int) -> None:
        """Move a widget one place earlier (-1) or later (+1) among all of the role's widgets."""
        keys = self._ordered_keys()
        if key not in keys:
            return
        i = keys.index(key)
        j = max(0, min(len(keys) - 1, i + step))
        keys.insert(j, keys.pop(i))
        QSettings().setValue(self._key("order"), ",".join(keys))
        self._place()

    def _toggled(self, key: str, shown: bool) -> None:
        self.set_hidden(key, not shown)

    def reset_layout(self) -> None:
        QSettings().remove(self._key("hidden"))
        QSettings().remove(self._key("order"))
        self._place()

    def _ordered_keys(self) -> list[str]:
        server = [w.key for w in self.data.widgets] if self.data else []
        saved = [k for k in self.order() if k in server]
        return saved + [k for k in server if k not in saved]

    def _fill_menu(self) -> None:
        self.menu.clear()
        titles = {w.key: w.title for w in self.data.widgets} if self.data else {}
        hidden = self.hidden()
        for key in self._ordered_keys():
            action = QAction(titles[key], self.menu)
            action.setObjectName(f"show_{key}")
            action.setCheckable(True)
            action.setChecked(key not in hidden)
            action.toggled.connect(partial(self._toggled, key))
            self.menu.addAction(action)
        self.menu.addSeparator()
        earlier = self.menu.addMenu("Move earlier")
        later = self.menu.addMenu("Move later")
        for key in self._ordered_keys():
            earlier.addAction(titles[key], partial(self.move_widget, key, -1))
            later.addAction(titles[key], partial(self.move_widget, key, +1))
        self.menu.addSeparator()
        self.menu.addAction("Show all, in the usual order", self.reset_layout)

    # --- loading ---------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._loading

    def reload(self) -> None:
        if not tasks.loop_alive():  # a debounce or a show after the app closed
            return
        if self._loading:
            self._debounce.start()
            return
        self._loading = True
        tasks.spawn(self._load())

    async def _load(self) -> None:
        try:
            data = await home_api.home(self.session.api)
        except ApiError as exc:
            self.updated.setText(f"Home could not be read: {exc.message}")
            return
        finally:
            self._loading = False
        self.data = data
        self.loads += 1
        self.updated.setText(f"Updated {format.clock(datetime.now(UTC))}")
        self._build()
        self.loaded.emit()

    def _on_changed(self, areas: frozenset[str]) -> None:
        if any(area.split(".")[0] in home_api.WATCHED for area in areas) or "*" in areas:
            if self.isVisible():
                self._debounce.start()
            else:  # read again when shown, not on every change while another module is open
                self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.reload()

    # --- cards -----------------------------------------------------------------------------------

    def _build(self) -> None:
        for card in self.cards.values():
            card.setParent(None)
            card.deleteLater()
        self.cards = {}
        assert self.data is not None
        for widget in self.data.widgets:
            card = HomeCard(widget, self.body)
            card.open_list.connect(self.open_figure)
            if widget.key == "new_leads" and self.session.can("leads", "edit"):
                unassigned = next((f for f in widget.figures if f.key == "unassigned"), None)
                if unassigned is not None and unassigned.value:
                    assign = card.add_action("Assign…", "homeAssign", "Hand the open unassigned leads to a colleague")
                    assign.clicked.connect(self.open_assign)
            card.setVisible(False)
            self.cards[widget.key] = card
        self._place()

    def _place(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        hidden = self.hidden()
        shown = [k for k in self._ordered_keys() if k not in hidden and k in self.cards]
        columns = max(1, self.area.viewport().width() // CARD_WIDTH)
        self._columns = columns
        for key, card in self.cards.items():
            card.setVisible(key in shown)
        row = col = 0
        for key in shown:
            card = self.cards[key]
            table = card.widget.table
            span = 2 if columns >= 3 and table is not None and len(table.columns) > 3 else 1
            if col + span > columns:
                row, col = row + 1, 0
            self.grid.addWidget(card, row, col, 1, span)
            col += span
            if col >= columns:
                row, col = row + 1, 0
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 0)
        self.grid.setRowStretch(row + 1, 1)
        self.area.setVisible(bool(shown) or self.data is None)
        self.empty.setVisible(self.data is not None and not shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.cards and max(1, self.area.viewport().width() // CARD_WIDTH) != self._columns:
            self._place()

    def shown_keys(self) -> list[str]:
        return [k for k in self._ordered_keys() if k in self.cards and not self.cards[k].isHidden()]

    # --- a figure opens its list -----------------------------------------------------------------

    def open_figure(self, figure: HomeFigure) -> None:
        if not figure.module:
            return
        main: Any = self.window()
        opener = getattr(main, "open_module", None)
        if not callable(opener):
            return
        opener(figure.module)
        page = getattr(main, "pages", {}).get(figure.module)
        content = getattr(page, "content", None)
        if content is not None:
            show_filtered(content, dict(figure.filter))

    def open_assign(self) -> AssignDialog:
        """Pick a colleague; the open unassigned leads (the figure's filter) become theirs."""
        dialog = AssignDialog(self, self.session)
        dialog.open()
        return dialog


def show_filtered(content: QWidget, values: dict[str, Any]) -> None:
    """Give a module page the figure's filter: its own ``show_filtered(values)`` when it has one, the
    admin panel's ``show_page(values["page"])``, its filter bar's ``set_values`` (Leads, Tickets),
    else the check boxes named like the filter's keys (Invoices' "overdue", Stock's "low_only")."""
    own = getattr(content, "show_filtered", None)
    if callable(own):
        own(values)
        return
    page, show_page = values.get("page"), getattr(content, "show_page", None)
    if isinstance(page, str) and callable(show_page):  # the admin panel: one of its pages
        show_page(page)
        return
    bar = getattr(content, "filters", None)
    setter = getattr(bar, "set_values", None)
    if callable(setter):
        setter(values)
        return
    for key, value in values.items():
        for box in _find(content, key):
            box.setChecked(bool(value))


def _find(content: QWidget, key: str) -> Iterator[QCheckBox]:
    direct = getattr(content, key, None)
    if isinstance(direct, QCheckBox):
        yield direct
        return
    for child in content.findChildren(QWidget):
        found = getattr(child, key, None)
        if isinstance(found, QCheckBox):
            yield found
            return


class AssignDialog(QDialog):
    """The open unassigned leads (up to BULK_LIMIT) to one colleague, through the bulk reassign."""

    def __init__(self, parent: QWidget, session: Session) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assign the unassigned leads")
        self.setObjectName("homeAssignDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.session = session
        self.ids: list[int] = []
        self.ready = False
        self.loading = True
        self.said = QLabel("Reading the unassigned leads…", self)
        self.said.setWordWrap(True)
        self.person = QComboBox(self)
        self.person.setObjectName("homeAssignPerson")
        self.person.setAccessibleName("Assign to")
        self.person.setMinimumWidth(260)
        form = QFormLayout()
        form.addRow("Assign &to", self.person)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.assign = self.buttons.addButton("Assign", QDialogButtonBox.ButtonRole.AcceptRole)
        self.assign.setObjectName("homeAssignConfirm")
        self.assign.setEnabled(False)
        self.buttons.accepted.connect(self.confirm)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.setContentsMargins(16, 16, 16, 16)
        box.setSpacing(10)
        box.addWidget(self.said)
        box.addLayout(form)
        box.addWidget(self.buttons)
        tasks.spawn(self._load())

    def is_busy(self) -> bool:
        return self.loading

    async def _load(self) -> None:
        try:
            await self._read()
        finally:
            self.loading = False

    async def _read(self) -> None:
        api = self.session.api
        try:
            found = await leads_api.list_leads(api, LeadQuery(unassigned=True, limit=BULK_LIMIT))
            people = await auth.colleagues(api, active=True, limit=100)
        except ApiError as exc:
            if shiboken6.isValid(self):
                self.said.setText(f"Could not read them: {exc.message}")
            return
        if not shiboken6.isValid(self):
            return
        self.ids = [lead.id for lead in found.items]
        me = self.session.me.id
        for user in sorted(people.items, key=lambda u: (u.id != me, u.full_name.lower())):
            self.person.addItem("Me" if user.id == me else user.full_name, user.id)
        n = len(self.ids)
        self.said.setText(
            f"{format.number(n)} open lead{'s' if n != 1 else ''} without an owner"
            + (f" (the first {BULK_LIMIT})" if found.total > n else "")
            + "."
        )
        self.assign.setEnabled(bool(self.ids) and self.person.count() > 0)
        self.ready = True

    def choose(self, user_id: int) -> None:
        self.person.setCurrentIndex(self.person.findData(user_id))

    def confirm(self) -> None:
        owner = self.person.currentData()
        if owner is None or not self.ids:
            return
        request = BulkRequest(ids=self.ids, action="reassign", owner_id=int(owner))

        def done(result: BulkResult) -> None:
            skipped = len(result.skipped)
            if skipped:
                self.said.setText(f"{skipped} of them could not be assigned: {result.skipped[0].message}")
                return
            self.accept()

        operations.run(
            self,
            leads_api.bulk_change(self.session.api, request),
            success=done,
            changed=leads_api.CHANGED,
            busy=self.assign,
        )


def create_page(session: Session) -> HomePage:
    return HomePage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """Home of the demo admin (every widget) in the main window."""
    ctx.main.open_module("home")
    page = ctx.main.pages["home"].content
    if isinstance(page, HomePage):
        yield "home", ctx.main
        targets = page.cards.get("targets")
        if targets is not None:  # won vs target, further down
            page.area.ensureWidgetVisible(targets)
            yield "home-targets", ctx.main
        if page.findChild(QPushButton, "homeAssign") is not None:
            assign = page.open_assign()
            yield "home-assign-dialog", assign
            assign.close()
