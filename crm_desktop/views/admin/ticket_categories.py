"""The ticket categories and the team each one routes to (the Support page's first half).

Categories are never deleted (old tickets point at them); "Deactivate" only hides one from new
tickets. A category's team decides where *new* tickets of it land, so a change here re-routes
nothing already in a queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from crm_desktop.api import admin as admin_api
from crm_desktop.views.admin.common import (
    can,
    field,
)
from crm_desktop.views.admin.sales_lists import Item, ItemList, ListCalls
from crm_server.contract.auth import TeamOut
from crm_server.contract.tickets import CategoryOut

if TYPE_CHECKING:
    from crm_desktop.views.admin.support import SupportPage

CATEGORIES = admin_api.CATEGORIES
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

    def body(self) -> dict[str, Any]:
        return {"name": self.name.text().strip(), "team_id": self.team.currentData()}

    def fields(self) -> dict[str, QWidget]:
        return {"name": self.name, "team_id": self.team}


class CategoryList(ItemList):
    """The categories in the order agents see them, with the team of the selected one."""

    CALLS = ListCalls(
        lambda api: admin_api.ticket_categories(api), admin_api.create_category, admin_api.update_category
    )
    ACTIVE_AGAIN = "offered again"
    INACTIVE = "inactive: not offered for new tickets, kept on old ones"

    def __init__(self, page: SupportPage) -> None:
        self.teams: dict[int, str] = {}
        self.team = QComboBox()
        super().__init__(
            page,
            "ticketCategoryList",
            self.CALLS,
            "Ticket categories",
            "category",
            "tickets.ticket_category",
            False,
            plural="categories",
        )
        self.active_button.setToolTip("Not offered for new tickets; old tickets keep it (Ctrl+D)")
        self.team.setObjectName("categoryTeam")
        self.team.setAccessibleName("Team of the selected category")
        self.team.setToolTip("New tickets of this category go to this team's queue")
        self.team.activated.connect(lambda _: self.set_team(self.team.currentData()))
        team_row = QFormLayout()
        team_row.addRow("Routes to &team", field(self.team, "New tickets only: tickets already in a queue stay."))
        self.body.insertLayout(self.body.count() - 1, team_row)  # above the buttons

    def reload(self) -> None:
        async def both() -> tuple[list[CategoryOut], list[TeamOut]]:
            categories, teams = await asyncio.gather(
                admin_api.ticket_categories(self.page.api), admin_api.list_teams(self.page.api)
            )
            return categories, teams

        def arrived(answer: tuple[list[CategoryOut], list[TeamOut]]) -> None:
            categories, teams = answer
            self.teams = {t.id: t.name for t in teams}
            self._arrived(categories)

        self.page.load(both(), arrived)

    def _text(self, item: Item) -> str:
        team = self.team_name(item.team_id if isinstance(item, CategoryOut) else None)
        return f"{item.name}  →  {team}" + ("" if item.active else "  (inactive)")

    def team_name(self, team_id: int | None) -> str:
        if team_id is None:
            return "no team"
        return self.teams.get(team_id, f"team #{team_id}")

    def _update_actions(self) -> None:
        super()._update_actions()
        item = self.current()
        team_choices(self.team, self.teams, item.team_id if isinstance(item, CategoryOut) else None)
        self.team.setEnabled(can(self.page.me, "edit") and item is not None)

    def new_dialog(self, submit: Callable[[Any], None]) -> CategoryDialog:
        return CategoryDialog(self, self.teams, submit)

    def added_message(self, item: Item) -> str:
        team_id = item.team_id if isinstance(item, CategoryOut) else None
        return f"The category {item.name} is added; its tickets go to {self.team_name(team_id)}."

    def set_team(self, team_id: int | None) -> None:
        item = self.current()
        if not isinstance(item, CategoryOut) or team_id == item.team_id or not can(self.page.me, "edit"):
            return
        self._patch(
            item,
            {"team_id": team_id},
            f"New {item.name} tickets now go to {self.team_name(team_id)}.",
            fields={"team_id": self.team},
        )


# --- settings --------------------------------------------------------------------------------------
