"""The ticket categories and the team each one routes to (the Support page's first half).

Categories are never deleted (old tickets point at them); "Deactivate" only hides one from new
tickets. A category's team decides where *new* tickets of it land, so a change here re-routes
nothing already in a queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.views.admin.common import (
    NameDialog,
    can,
    field,
)
from crm_desktop.views.admin.sales_lists import OrderedList, failed

if TYPE_CHECKING:
    from crm_desktop.views.admin.support import SupportPage

CATEGORIES = frozenset({"tickets.ticket_category"})
NO_TEAM = "No team (only people who see all tickets)"


def team_choices(combo: QComboBox, teams: dict[int, str], selected: int | None) -> None:
    """Fill a team combo (no team first, then by name) and select `selected`."""
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(NO_TEAM, None)
    for team_id, name in sorted(teams.items(), key=lambda t: t[1].lower()):
        combo.addItem(name, team_id)
    if selected is not None and combo.findData(selected) < 0:
        combo.addItem(f"team #{selected} (deleted)", selected)
    combo.setCurrentIndex(max(combo.findData(selected), 0))
    combo.blockSignals(False)


# --- categories ------------------------------------------------------------------------------------

class CategoryDialog(QDialog):
    """New category: its name and the team its tickets go to."""

    def __init__(self, parent: QWidget, teams: dict[int, str], submit: Callable[[CategoryDialog], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle("New ticket category")
        self.setObjectName("categoryDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.name = QLineEdit()
        self.name.setMinimumWidth(320)
        self.name.setAccessibleName("Name")
        self.team = QComboBox()
        self.team.setAccessibleName("Routes to team")
        team_choices(self.team, teams, None)
        form = QFormLayout()
        form.addRow("&Name", field(self.name))
        form.addRow("Routes to &team", field(self.team))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: submit(self))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(self.buttons)


class CategoryList(QWidget):
    """The categories in the order agents see them, with the team of the selected one."""

    PATH = "/api/ticket-categories"

    def __init__(self, page: SupportPage) -> None:
        super().__init__()
        self.page = page
        self.items: dict[int, dict[str, Any]] = {}
        self.order: list[int] = []
        self.teams: dict[int, str] = {}

        heading = QLabel("Ticket categories")
        heading.setProperty("role", "heading")
        self.list = OrderedList("ticketCategoryList", "Ticket categories")
        self.list.reordered.connect(self._reordered)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.itemActivated.connect(lambda _: self.rename())
        self.empty = QLabel("No categories yet. Add one with “Add…” (Ins).")
        self.empty.setProperty("role", "muted")
        self.empty.setWordWrap(True)
        self.team = QComboBox()
        self.team.setObjectName("categoryTeam")
        self.team.setAccessibleName("Team of the selected category")
        self.team.setToolTip("New tickets of this category go to this team's queue")
        self.team.activated.connect(lambda _: self.set_team(self.team.currentData()))
        team_row = QFormLayout()
        team_row.addRow("Routes to &team", field(self.team, "New tickets only: tickets already in a queue stay."))

        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a category (Ins)")
        self.add_button.clicked.connect(self.add)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename the selected category (F2)")
        self.rename_button.clicked.connect(self.rename)
        self.active_button = QPushButton("Deactivate")
        self.active_button.setToolTip("Not offered for new tickets; old tickets keep it (Ctrl+D)")
        self.active_button.clicked.connect(self.toggle_active)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.list.move_current(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.list.move_current(1))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addLayout(team_row)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        layout.addLayout(buttons)
        page.shortcut(QKeySequence(Qt.Key.Key_Insert), self.add, widget=self.list)
        page.shortcut(QKeySequence(Qt.Key.Key_F2), self.rename, widget=self.list)
        page.shortcut(QKeySequence("Ctrl+D"), self.toggle_active, widget=self.list)
        self._update_actions()

    def reload(self) -> None:
        async def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            categories, teams = await asyncio.gather(self.page.api.get(self.PATH, include_inactive=True),
                                                     self.page.api.get("/api/teams"))
            return categories, teams

        def arrived(answer: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
            categories, teams = answer
            self.teams = {t["id"]: t["name"] for t in teams}
            self._arrived(categories)

        self.page.load(both(), arrived)

    def _arrived(self, items: list[dict[str, Any]], select: int | None = None) -> None:
        self.items = {i["id"]: i for i in items}
        self.order = [i["id"] for i in items]
        self.list.fill([(i["id"], self._text(i)) for i in items], select)
        self.empty.setVisible(not items)
        self.list.setVisible(bool(items))
        self._update_actions()

    def _text(self, item: dict[str, Any]) -> str:
        team = self.team_name(item["team_id"])
        return f"{item['name']}  →  {team}" + ("" if item["active"] else "  (inactive)")

    def team_name(self, team_id: int | None) -> str:
        if team_id is None:
            return "no team"
        return self.teams.get(team_id, f"team #{team_id}")

    def current(self) -> dict[str, Any] | None:
        row_id = self.list.current_id()
        return None if row_id is None else self.items.get(row_id)

    def _update_actions(self) -> None:
        item = self.current()
        edit = can(self.page.me, "edit")
        self.add_button.setEnabled(can(self.page.me, "create"))
        for button in (self.rename_button, self.active_button):
            button.setEnabled(edit and item is not None)
        self.active_button.setText("Activate" if item is not None and not item["active"] else "Deactivate")
        team_choices(self.team, self.teams, item["team_id"] if item else None)
        self.team.setEnabled(edit and item is not None)
        row, count = self.list.currentRow(), self.list.count()
        self.up_button.setEnabled(edit and item is not None and row > 0)
        self.down_button.setEnabled(edit and item is not None and row < count - 1)
        self.list.movable = edit
        self.list.setDragEnabled(edit)

    # --- changes -------------------------------------------------------------------------------

    def _saved(self, item: dict[str, Any], message: str) -> None:
        self.items[item["id"]] = item
        if item["id"] not in self.order:
            self.order.append(item["id"])
        self._arrived([self.items[i] for i in self.order], select=item["id"])
        self.page.say(message)

    def add(self) -> None:
        if not can(self.page.me, "create"):
            return

        def submit(dialog: CategoryDialog) -> None:
            body = {"name": dialog.name.text().strip(), "team_id": dialog.team.currentData()}

            def created(item: dict[str, Any]) -> None:
                dialog.accept()
                self._saved(item, f"The category {item['name']} is added; its tickets go to "
                                  f"{self.team_name(item['team_id'])}.")

            operations.run(dialog, self.page.api.post(self.PATH, body), success=created, changed=CATEGORIES,
                           fields={"name": dialog.name, "team_id": dialog.team}, busy=dialog.buttons)

        CategoryDialog(self, self.teams, submit).open()

    def _patch(self, item: dict[str, Any], changes: dict[str, Any], message: str,
               parent: QWidget | None = None, fields: dict[str, QWidget] | None = None,
               after: Callable[[], None] | None = None) -> None:
        def saved(result: dict[str, Any]) -> None:
            if after is not None:
                after()
            self._saved(result, message)

        call = self.page.api.patch(f"{self.PATH}/{item['id']}", {**changes, "version": item["version"]})
        task = operations.run(parent or self.page, call, success=saved, changed=CATEGORIES, fields=fields,
                              reload=self.reload)
        task.add_done_callback(lambda t: self._update_actions() if failed(t) else None)

    def rename(self) -> None:
        item = self.current()
        if item is None or not can(self.page.me, "edit"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            self._patch(item, {"name": name}, f"The category is now called {name}.", parent=dialog,
                        fields={"name": dialog.name}, after=dialog.accept)

        NameDialog(self, "Rename category", "New name", item["name"], submit).open()

    def set_team(self, team_id: int | None) -> None:
        item = self.current()
        if item is None or team_id == item["team_id"] or not can(self.page.me, "edit"):
            return
        self._patch(item, {"team_id": team_id}, f"New {item['name']} tickets now go to {self.team_name(team_id)}.",
                    fields={"team_id": self.team})

    def toggle_active(self) -> None:
        item = self.current()
        if item is None or not can(self.page.me, "edit"):
            return
        active = not item["active"]
        verb = "offered again" if active else "inactive: not offered for new tickets, kept on old ones"
        self._patch(item, {"active": active}, f"The category {item['name']} is {verb}.")

    def _reordered(self, ids: list[int], moved: int) -> None:
        """No order endpoint: renumber by PATCHing each category whose place changed."""
        old = {i: self.items[i] for i in ids}

        async def renumber() -> list[dict[str, Any]]:
            saved = []
            for position, row_id in enumerate(ids):
                item = old[row_id]
                if item["position"] != position:
                    item = await self.page.api.patch(f"{self.PATH}/{row_id}",
                                                     {"position": position, "version": item["version"]})
                saved.append(item)
            return saved

        def done(items: list[dict[str, Any]]) -> None:
            self._arrived(items, select=moved)
            self.page.say("The categories are in the new order.")

        task = operations.run(self.page, renumber(), success=done, changed=CATEGORIES, reload=self.reload)
        task.add_done_callback(lambda t: self.reload() if failed(t) else None)


# --- settings --------------------------------------------------------------------------------------
