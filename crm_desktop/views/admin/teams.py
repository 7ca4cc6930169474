"""Teams: create, rename, choose members (a checkable list of people) and the team lead.

A person belongs to one team at most, so ticking someone from another team moves them; the list
says where each person is now. People come from the server by search (never the whole table):
the team's own members, plus the first matches of the search box.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    NameDialog,
    ScreenshotState,
    can,
    confirm,
    field,
    style_list,
    title_label,
)
from crm_server.contract.auth import Me, TeamOut, UserOut

TEAMS = admin_api.TEAMS
ID_ROLE = Qt.ItemDataRole.UserRole + 1
SEARCH_LIMIT = 50


class TeamsPage(AdminPage):
    """Team list on the left; name, lead and members of the selected team on the right."""

    title = "Teams"
    areas = frozenset({"admin.teams"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.teams: dict[int, TeamOut] = {}
        self.current: TeamOut | None = None
        self.people: dict[int, UserOut] = {}  # users shown in the member list, by id
        self.checked: set[int] = set()
        self.lead_id: int | None = None
        self.dirty = False  # unsaved edits in the editor: a refresh of the list keeps them
        self._select_after_load: int | None = None

        self.list = QListWidget()
        self.list.setObjectName("teamList")
        self.list.setAccessibleName("Teams")
        self.list.setMinimumWidth(200)
        style_list(self.list)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.new_button = QPushButton("New team")
        self.new_button.setToolTip("New team (Ctrl+N)")
        self.new_button.setProperty("role", "primary")
        self.new_button.clicked.connect(self.new_team)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        self.empty = QLabel("No teams yet. Create one with “New team” (Ctrl+N).")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setProperty("role", "muted")
        left_layout.addWidget(self.empty)

        self.name = QLineEdit()
        self.name.setAccessibleName("Team name")
        self.name.textEdited.connect(self._mark_dirty)
        self.lead = QComboBox()
        self.lead.setAccessibleName("Team lead")
        self.lead.currentIndexChanged.connect(self._on_lead_changed)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find people to add…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Find people")
        self.members = QListWidget()
        self.members.setObjectName("memberList")
        self.members.setAccessibleName("Members")
        style_list(self.members)
        self.members.itemChanged.connect(self._on_item_changed)
        self.member_count = QLabel("")
        self.member_count.setProperty("role", "muted")
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save the team (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self._show(self.current))

        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("&Name", field(self.name))
        form.addRow("Team &lead", field(self.lead, "Chosen among the ticked members."))
        form.addRow("&Members", field(self.search))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(12, 0, 0, 0)
        right_layout.setSpacing(10)
        right_layout.addLayout(form)
        right_layout.addWidget(field(self.members), 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.member_count)
        bottom.addStretch(1)
        bottom.addWidget(self.revert_button)
        bottom.addWidget(self.save_button)
        right_layout.addLayout(bottom)
        self.editor = right

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([230, 770])
        self.root.addWidget(
            title_label("Teams", "Teams share records; a manager sees the team's work.", self.new_button)
        )
        self.root.addWidget(self.notice)
        self.root.addWidget(splitter, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self._search_people)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.shortcut(QKeySequence.StandardKey.New, self.new_team)
        self.shortcut(QKeySequence.StandardKey.Save, self.save)
        self._show(None)

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(admin_api.list_teams(self.api), self._arrived)

    def _arrived(self, teams: list[TeamOut]) -> None:
        self.teams = {t.id: t for t in teams}
        keep = self._select_after_load or (self.current.id if self.current else None)
        self._select_after_load = None
        self.list.blockSignals(True)
        self.list.clear()
        for team in teams:
            n = len(team.member_ids)
            item = QListWidgetItem(f"{team.name}\n{n} {'member' if n == 1 else 'members'}")
            item.setData(ID_ROLE, team.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not teams)
        self.list.setVisible(bool(teams))
        if not teams:
            self._show(None)
            return
        target = next((i for i in range(self.list.count()) if self.list.item(i).data(ID_ROLE) == keep), 0)
        self.list.blockSignals(True)
        self.list.setCurrentRow(target)
        self.list.blockSignals(False)
        team = self.teams[self.list.item(target).data(ID_ROLE)]
        if self.dirty and self.current is not None and team.id == self.current.id:
            if team.version != self.current.version:
                self.say("Someone else changed this team meanwhile; saving will offer to reload it.")
            return  # keep the person's unsaved edits on screen
        self._show(team)

    def _on_current_changed(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        team = self.teams.get(item.data(ID_ROLE)) if item is not None else None
        if (
            self.dirty
            and previous is not None
            and self.current is not None
            and (team is None or team.id != self.current.id)
        ):
            name = self.current.name
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)

            def discard() -> None:
                self.dirty = False
                if item is not None:
                    self.list.setCurrentItem(item)

            confirm(self, "Unsaved changes", f"Discard your changes to the team {name}?", "Discard", discard)
            return
        self._show(team)

    def _mark_dirty(self, *_: Any) -> None:
        if self.current is not None:
            self.dirty = True

    def _on_lead_changed(self, _: int) -> None:
        self.lead_id = self.lead.currentData()
        self._mark_dirty()

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity in ("team", "user"):
            self.reload()

    def _show(self, team: TeamOut | None) -> None:
        self.current = team
        self.dirty = False
        editable = team is not None and can(self.me, "edit")
        self.editor.setEnabled(team is not None)
        for w in (self.name, self.lead, self.search, self.members, self.save_button):
            w.setEnabled(editable)
        self.name.setText(team.name if team else "")
        self.checked = set(team.member_ids) if team else set()
        self.lead_id = team.lead_user_id if team else None
        self.people = {}
        self.members.clear()
        self._fill_lead()
        if team is not None:
            # The team's members first (all of them), then the first people the search finds.
            self.load(self._people(team.id, self.search.text().strip()), self._people_arrived)
        self.new_button.setEnabled(can(self.me, "create"))

    async def _people(self, team_id: int | None, search: str) -> list[UserOut]:
        found: list[UserOut] = []
        if team_id is not None:
            offset = 0
            while True:  # a team has tens of people; page through them all the same
                page = await admin_api.list_users(self.api, offset, 500, team_id=team_id)
                found.extend(page.items)
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    break
        matches = await admin_api.list_users(self.api, 0, SEARCH_LIMIT, search=search or None, active=True)
        found.extend(matches.items)
        return found

    def _search_people(self) -> None:
        if self.current is not None:
            self.load(self._people(None, self.search.text().strip()), self._people_arrived)

    def _people_arrived(self, users: list[UserOut]) -> None:
        for user in users:
            self.people[user.id] = user
        self._fill_members()
        self._fill_lead()

    def _fill_members(self) -> None:
        """Ticked people first, then the search's matches."""
        search = self.search.text().strip().lower()
        shown = [self.people[i] for i in self.checked if i in self.people]
        shown.sort(key=lambda u: u.full_name.lower())
        others = [
            u
            for i, u in self.people.items()
            if i not in self.checked
            and u.active
            and (not search or search in u.full_name.lower() or search in u.email.lower())
        ]
        others.sort(key=lambda u: u.full_name.lower())
        self.members.blockSignals(True)
        self.members.clear()
        team_names = {t.id: t.name for t in self.teams.values()}
        for user in [*shown, *others]:
            note = ""
            if self.current and user.team_id and user.team_id != self.current.id:
                note = f"  — now in {team_names.get(user.team_id, 'another team')}"
            if not user.active:
                note += "  (deactivated)"
            item = QListWidgetItem(f"{user.full_name}  <{user.email}>{note}")
            item.setData(ID_ROLE, user.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if user.id in self.checked else Qt.CheckState.Unchecked)
            self.members.addItem(item)
        self.members.blockSignals(False)
        n = len(self.checked)
        self.member_count.setText(f"{n} {'member' if n == 1 else 'members'}")

    def _fill_lead(self) -> None:
        """The lead is picked among the ticked members (and whoever leads the team now)."""
        candidates = set(self.checked)
        if self.lead_id is not None:
            candidates.add(self.lead_id)
        self.lead.blockSignals(True)
        self.lead.clear()
        self.lead.addItem("No lead", None)
        for user_id in sorted(candidates, key=lambda i: self.people[i].full_name.lower() if i in self.people else ""):
            user = self.people.get(user_id)
            if user is not None:
                self.lead.addItem(user.full_name, user_id)
        self.lead.setCurrentIndex(max(self.lead.findData(self.lead_id), 0) if self.lead_id is not None else 0)
        self.lead.blockSignals(False)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        user_id = int(item.data(ID_ROLE))
        if item.checkState() == Qt.CheckState.Checked:
            self.checked.add(user_id)
        else:
            self.checked.discard(user_id)
            if user_id == self.lead_id:
                self.lead_id = None
        n = len(self.checked)
        self.member_count.setText(f"{n} {'member' if n == 1 else 'members'}")
        self._fill_lead()
        self._mark_dirty()

    # --- saving --------------------------------------------------------------------------------

    def set_member(self, user_id: int, member: bool) -> None:
        """Tick or untick one person (what a click on the checkbox does)."""
        for i in range(self.members.count()):
            item = self.members.item(i)
            if item.data(ID_ROLE) == user_id:
                item.setCheckState(Qt.CheckState.Checked if member else Qt.CheckState.Unchecked)
                return
        raise KeyError(user_id)

    def save(self) -> None:
        team = self.current
        if team is None or not can(self.me, "edit"):
            return
        body = {
            "name": self.name.text().strip(),
            "lead_user_id": self.lead.currentData(),
            "member_ids": sorted(self.checked),
            "version": team.version,
        }

        def saved(result: TeamOut) -> None:
            self._select_after_load = result.id
            self.teams[result.id] = result
            self.dirty = False
            self.say(f"The team {result.name} is saved.")

        operations.run(
            self,
            admin_api.update_team(self.api, team.id, body),
            success=saved,
            changed=TEAMS,
            fields={"name": self.name, "lead_user_id": self.lead, "member_ids": self.members},
            reload=self._reload_discarding,
        )

    def _reload_discarding(self) -> None:
        """After "Reload" on a conflict: show the team as it is now, dropping the edits."""
        self.dirty = False
        self.reload()

    def new_team(self) -> None:
        if not can(self.me, "create"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            def created(team: TeamOut) -> None:
                dialog.accept()
                self._select_after_load = team.id
                self.say(f"The team {team.name} is created; tick its members and save.")

            operations.run(
                dialog,
                admin_api.create_team(self.api, name),
                success=created,
                changed=TEAMS,
                fields={"name": dialog.name},
            )

        NameDialog(self, "New team", "Name", "", submit).open()

    def screenshot_states(self) -> list[ScreenshotState]:
        return [("admin-teams", lambda: None)]
