"""Users: the server-paged list with search and filters, and every account action an admin needs.

Create, edit (incl. role), deactivate with hand-over of open records, reactivate, unlock, temporary
password, reset email, reset 2FA. Each change is one `operations.run`, so its errors show the one
way (field errors under the field) and the change bus tells the list to refresh.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop import format, operations
from crm_desktop.api import admin as admin_api
from crm_desktop.api.client import ApiClient
from crm_desktop.views.admin.common import (
    AdminPage,
    Event,
    ScreenshotState,
    busy_while,
    can,
    confirm,
    field,
    in_future,
    set_danger,
    title_label,
    tone,
)
from crm_desktop.widgets.filter_bar import FilterBar
from crm_desktop.widgets.paged_table import Column, PagedTable, PagedTableModel
from crm_desktop.widgets.user_picker import UserPicker
from crm_server.contract.auth import Me, RoleOut, TeamOut, UserOut
from crm_server.contract.common import Page

USERS = admin_api.USERS
PAGE_SIZE = 100


def status_of(user: UserOut) -> str:
    if not user.active:
        return "Deactivated"
    if in_future(user.locked_until):
        return "Locked"
    if user.must_change_password:
        return "Must change password"
    return "Active"


def _status_color(user: UserOut) -> str | None:
    token = {"Deactivated": "muted", "Locked": "danger"}.get(status_of(user))
    return tone(token) if token else None


class UserDialog(QDialog):
    """New user or edit user. OK saves through operations.run; the dialog closes on success only."""

    def __init__(self, page: UsersPage, user: UserOut | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.user = user
        self.setObjectName("userDialog")
        self.setWindowTitle("Edit user" if user else "New user")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(460)

        self.full_name = QLineEdit()
        self.email = QLineEdit()
        self.phone = QLineEdit()
        self.role = QComboBox()
        for role in page.roles.values():
            self.role.addItem(role.name, role.id)
        if user is None:
            # The person picks the role: a default would hand out rights (Admin, first by id) unasked.
            self.role.setPlaceholderText("Pick a role…")
            self.role.setCurrentIndex(-1)
            self.role.currentIndexChanged.connect(lambda _: self._update_ok())
        self.team = QComboBox()
        self.team.addItem("No team", None)
        for team in page.teams.values():
            self.team.addItem(team.name, team.id)
        for widget, name in (
            (self.full_name, "Full name"),
            (self.email, "Email"),
            (self.phone, "Phone"),
            (self.role, "Role"),
            (self.team, "Team"),
        ):
            widget.setAccessibleName(name)

        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("Full &name", field(self.full_name))
        form.addRow("&Email", field(self.email))
        form.addRow("&Phone", field(self.phone))
        form.addRow("&Role", field(self.role))
        form.addRow("&Team", field(self.team))

        self.fields: dict[str, QWidget] = {
            "full_name": self.full_name,
            "email": self.email,
            "phone": self.phone,
            "role_id": self.role,
            "team_id": self.team,
        }
        self.password = QLineEdit()
        self.set_password = QRadioButton("Set an initial &password (they change it at first sign-in)")
        self.send_link = QRadioButton("E&mail them a link to choose a password")
        if user is None:
            group = QButtonGroup(self)
            group.addButton(self.set_password)
            group.addButton(self.send_link)
            self.send_link.setChecked(True)
            self.password.setEchoMode(QLineEdit.EchoMode.Password)
            self.password.setAccessibleName("Initial password")
            self.password.setPlaceholderText("Initial password")
            self.password.setEnabled(False)
            self.set_password.toggled.connect(self.password.setEnabled)
            form.addRow("", self.send_link)
            form.addRow("", self.set_password)
            form.addRow("Password", field(self.password))
            self.fields["password"] = self.password
        else:
            self._fill(user)
            if user.id == page.me.id:
                # One's own email leads to password resets: the server wants one's password to move it.
                self.password.setEchoMode(QLineEdit.EchoMode.Password)
                self.password.setAccessibleName("Your password")
                self.password.setPlaceholderText("Needed only to change your own email")
                form.addRow("Your pass&word", field(self.password))
                self.fields["password"] = self.password

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create user" if user is None else "Save")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        # The title inside the dialog too: a window without decorations (a kiosk, a screenshot) still says it.
        self.heading = QLabel(self.windowTitle() if user is None else f"Edit {user.full_name}")
        self.heading.setObjectName("userDialogHeading")
        self.heading.setProperty("role", "heading")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(14)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_ok()

    def _update_ok(self) -> None:
        """A new user needs a role the person chose; until then Create waits and says why."""
        if self.user is not None:
            return
        chosen = self.role.currentData() is not None
        self.ok.setEnabled(chosen)
        self.ok.setToolTip("" if chosen else "Pick a role first")

    def payload(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip(),
            "phone": self.phone.text().strip() or None,
            "role_id": self.role.currentData(),
            "team_id": self.team.currentData(),
        }
        if self.user is None:
            values["password"] = self.password.text() if self.set_password.isChecked() else None
            return values
        # Send only what changed, with the version we read (409 if someone saved in between).
        changed = {k: v for k, v in values.items() if v != getattr(self.user, k)}
        if "email" in changed and self.password.text():
            changed["password"] = self.password.text()
        return {"version": self.user.version, **changed}

    def submit(self) -> None:
        if self.user is None and self.role.currentData() is None:
            return  # Create waits for a role (see _update_ok)
        api = self.page.api
        body = self.payload()
        if self.user is None:
            call = admin_api.create_user(api, body)
        else:
            call = admin_api.update_user(api, self.user.id, body)
        busy_while(
            self.ok,
            operations.run(self, call, success=self._saved, changed=USERS, fields=self.fields, reload=self.reload),
        )

    def reload(self) -> None:
        """After a conflict ("Reload"): show the user as stored now, with its new version."""
        if self.user is None:
            return
        self.page.load(admin_api.get_user(self.page.api, self.user.id), self._fill)

    def _fill(self, user: UserOut) -> None:
        if not shiboken6.isValid(self):
            return
        self.user = user
        self.full_name.setText(user.full_name)
        self.email.setText(user.email)
        self.phone.setText(user.phone or "")
        self.role.setCurrentIndex(max(self.role.findData(user.role_id), 0))
        self.team.setCurrentIndex(max(self.team.findData(user.team_id), 0))

    def _saved(self, user: UserOut) -> None:
        self.page.saved(user, created=self.user is None)
        self.accept()


class DeactivateDialog(QDialog):
    """Asks who receives the user's open records, then deactivates (the user is signed out too)."""

    def __init__(self, page: UsersPage, user: UserOut) -> None:
        super().__init__(page)
        self.page = page
        self.user = user
        self.setObjectName("deactivateDialog")
        self.setWindowTitle("Deactivate user")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setMinimumWidth(480)
        text = QLabel(
            f"<b>{user.full_name}</b> will be signed out everywhere and can no longer sign in. "
            "You can reactivate them later."
        )
        text.setWordWrap(True)
        self.heir = UserPicker(page.api, active_only=True, exclude={user.id})
        self.heir.setAccessibleName("Hand their open records to")
        self.keep = QCheckBox("Leave their records assigned to them")
        self.keep.toggled.connect(lambda on: self.heir.setEnabled(not on))
        self.keep.toggled.connect(lambda _: self._update_ok())
        self.heir.user_changed.connect(lambda _: self._update_ok())
        form = QFormLayout()
        form.addRow(
            "Hand their open &records to", field(self.heir, "Leads, clients and open follow-ups move to this person.")
        )
        form.addRow("", self.keep)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Deactivate")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(14)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_ok()

    def _update_ok(self) -> None:
        set_danger(self.ok, self.keep.isChecked() or self.heir.user_id is not None)

    def submit(self) -> None:
        reassign_to = None if self.keep.isChecked() else self.heir.user_id
        user_id = self.user.id

        async def deactivate() -> Any:
            version = await self.page.latest_version(user_id)
            return await admin_api.deactivate_user(self.page.api, user_id, version, reassign_to)

        call = deactivate()
        busy_while(
            self.ok,
            operations.run(
                self, call, success=self._done, changed=USERS, fields={"reassign_to": self.heir, "user_id": self.heir}
            ),
        )

    def _done(self, moved: dict[str, int]) -> None:
        count = sum(moved.values())
        heir = self.heir.text() if self.heir.user_id else ""
        self.page.say(
            f"{self.user.full_name} is deactivated" + (f"; {count} open record(s) went to {heir}." if heir else ".")
        )
        self.accept()


class PasswordDialog(QDialog):
    """A temporary password the user must change at next sign-in."""

    def __init__(self, page: UsersPage, user: UserOut) -> None:
        super().__init__(page)
        self.page = page
        self.user = user
        self.setObjectName("passwordDialog")
        self.setWindowTitle("Set a temporary password")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.password = QLineEdit()
        self.password.setAccessibleName("Temporary password")
        generate = QPushButton("&Generate")
        generate.setObjectName("generatePassword")
        generate.clicked.connect(lambda: self.password.setText(secrets.token_urlsafe(15)))
        row = QHBoxLayout()
        row.addWidget(field(self.password), 1)
        row.addWidget(generate, 0, Qt.AlignmentFlag.AlignTop)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        note = QLabel(
            f"{user.full_name} must choose a new password at their next sign-in. Give them this one by a safe way."
        )
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(12)
        layout.addWidget(note)
        layout.addWidget(holder)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        call = admin_api.set_password(self.page.api, self.user.id, self.password.text())
        operations.run(self, call, success=self._done, changed=USERS, fields={"password": self.password})

    def _done(self, _: object) -> None:
        self.page.say(f"Temporary password set for {self.user.full_name}.")
        self.accept()


class UsersPage(AdminPage):
    """The user list and its actions."""

    title = "Users"
    areas = frozenset({"admin.users", "admin.roles", "admin.teams"})

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.roles: dict[int, RoleOut] = {}
        self.teams: dict[int, TeamOut] = {}
        self._select_after_load: int | None = None

        self.filters = FilterBar()
        self.search = self.filters.add_search("search", "Search name or email…")
        self.search.setMinimumWidth(180)
        self.role_filter = self.filters.add_choice("role_id", "Role", [])
        self.team_filter = self.filters.add_choice("team_id", "Team", [])
        self.active_filter = self.filters.add_choice(
            "active", "Status", [("Active", True), ("Deactivated", False)], any_label="All"
        )
        self.active_filter.setCurrentIndex(1)  # active people first: what an admin looks for
        self.filters.changed.connect(self.reload_list)

        columns: list[Column[UserOut]] = [
            Column("Name", lambda u: u.full_name),
            Column("Email", lambda u: u.email),
            Column("Role", lambda u: self._name(self.roles, u.role_id, "…")),
            Column("Team", lambda u: self._name(self.teams, u.team_id, "—")),
            Column(
                "Status",
                status_of,
                color=_status_color,
                tooltip=lambda u: (
                    f"Locked until {format.moment(u.locked_until)}" if in_future(u.locked_until) else None
                ),
            ),
            Column("2FA", lambda u: "On" if u.totp_enabled else "Off"),
            Column("Last sign-in", lambda u: format.moment(u.last_login_at)),
        ]
        self.model = PagedTableModel(columns, self._fetch, page_size=PAGE_SIZE, parent=self)
        self.table = PagedTable(
            self.model, "Try another search, or clear the filters.", icon="user", empty_title="No users match"
        )
        self.table.set_noun("user", "users")
        for column, width in enumerate((150, 220, 100, 130, 90, 40, 128)):
            self.table.view.setColumnWidth(column, width)
        header = self.table.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # email takes the spare room
        self.table.view.activated.connect(lambda _: self.edit_selected())
        self.table.view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.model.modelReset.connect(self._update_actions)
        self.model.rowsInserted.connect(self._on_rows_arrived)
        self.model.loading_changed.connect(self._on_loading_changed)
        self.model.dataChanged.connect(lambda *_: self._update_actions())

        self.new_button = QPushButton("New user")
        self.new_button.setToolTip("New user (Ctrl+N)")
        self.new_button.clicked.connect(self.new_user)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Edit the selected user (Enter)")
        self.edit_button.clicked.connect(self.edit_selected)
        self.deactivate_button = QPushButton("Deactivate…")
        self.deactivate_button.setToolTip("Deactivate the selected user (Del)")
        self.deactivate_button.clicked.connect(self.deactivate_selected)
        self.reactivate_button = QPushButton("Reactivate")
        self.reactivate_button.clicked.connect(self.reactivate_selected)
        self.more_button = QToolButton()
        self.more_button.setText("More ▾")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more_menu = QMenu(self.more_button)
        self.role_menu = self.more_menu.addMenu("Change role")
        self.unlock_action = self._menu_action("Unlock", self.unlock_selected)
        self.password_action = self._menu_action("Set temporary password…", self.password_selected)
        self.reset_action = self._menu_action("Send password reset email", self.send_reset_selected)
        self.totp_action = self._menu_action("Reset two-factor sign-in…", self.reset_2fa_selected)
        self.more_button.setMenu(self.more_menu)
        self.table.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.view.customContextMenuRequested.connect(
            lambda pos: self.more_menu.popup(self.table.view.viewport().mapToGlobal(pos))
        )

        self.new_button.setProperty("role", "primary")
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        for b in (self.edit_button, self.deactivate_button, self.reactivate_button, self.more_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.root.addWidget(title_label("Users", "Who can sign in, with which role and team.", self.new_button))
        self.root.addWidget(self.filters)
        self.root.addLayout(buttons)
        self.root.addWidget(self.notice)
        self.root.addWidget(self.table, 1)

        self.shortcut(QKeySequence.StandardKey.New, self.new_user)
        self.shortcut(QKeySequence(Qt.Key.Key_Delete), self.deactivate_selected, widget=self.table.view)
        self._update_actions()

    def _menu_action(self, text: str, handler: Callable[[], None]) -> QAction:
        action = self.more_menu.addAction(text)
        action.triggered.connect(handler)
        return action

    # --- loading -------------------------------------------------------------------------------

    async def _fetch(self, offset: int, limit: int, after: str | None = None) -> Page[UserOut]:
        return await admin_api.list_users(self.api, offset, limit, after=after, **self.filters.values())

    def reload(self) -> None:
        self.load(admin_api.list_roles(self.api), self._roles_arrived)
        self.load(admin_api.list_teams(self.api), self._teams_arrived)
        self.reload_list()

    def reload_list(self) -> None:
        selected = self.table.current_row()
        if selected is not None and self._select_after_load is None:
            self._select_after_load = selected.id
        self.model.reload()

    @staticmethod
    def _name(named: dict[int, RoleOut] | dict[int, TeamOut], key: int | None, missing: str) -> str:
        found = named.get(key) if key is not None else None
        return found.name if found is not None else missing

    def _roles_arrived(self, roles: list[RoleOut]) -> None:
        self.roles = {r.id: r for r in roles}
        self.filters.set_choices("role_id", [(r.name, r.id) for r in roles])
        self.role_menu.clear()
        for role in roles:
            action = self.role_menu.addAction(role.name)
            action.triggered.connect(lambda _=False, rid=role.id: self.change_role_selected(rid))
        self._repaint_rows()

    def _teams_arrived(self, teams: list[TeamOut]) -> None:
        self.teams = {t.id: t for t in teams}
        self.filters.set_choices("team_id", [(t.name, t.id) for t in teams])
        self._repaint_rows()

    def _repaint_rows(self) -> None:
        if self.model.rowCount():
            self.model.dataChanged.emit(
                self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, self.model.columnCount() - 1)
            )

    def _on_rows_arrived(self, *_: Any) -> None:
        if self._select_after_load is not None and self.table.select_key(self._select_after_load):
            self._select_after_load = None
        self._update_actions()

    def _on_loading_changed(self, loading: bool) -> None:
        if not loading:
            self._select_after_load = None  # it was in that page or it is not in the list any more

    def is_busy(self) -> bool:
        return super().is_busy() or self.model.loading

    # --- live ----------------------------------------------------------------------------------

    def on_live_event(self, event: Event) -> None:
        if not self.loaded:
            return
        entity, action = event.entity, event.action
        if entity == "user":
            if action == "created" or event.entity_id is None:
                self.reload_list()
            elif self.model.find(event.entity_id) is not None:
                self.load(admin_api.get_user(self.api, event.entity_id), self._patch_row)
        elif entity == "role":
            self.load(admin_api.list_roles(self.api), self._roles_arrived)
        elif entity == "team":
            self.load(admin_api.list_teams(self.api), self._teams_arrived)
            self.reload_list()  # members moved between teams

    def _patch_row(self, user: UserOut) -> None:
        self.model.replace_row(user)
        self._update_actions()

    # --- actions -------------------------------------------------------------------------------

    def selected(self) -> UserOut | None:
        return self.table.current_row()

    def _update_actions(self) -> None:
        user = self.selected()
        edit = can(self.me, "edit")
        self.new_button.setEnabled(can(self.me, "create"))
        self.edit_button.setEnabled(edit and user is not None)
        is_me = user is not None and user.id == self.me.id
        set_danger(self.deactivate_button, edit and user is not None and user.active and not is_me)
        self.reactivate_button.setEnabled(edit and user is not None and not user.active)
        self.more_button.setEnabled(edit and user is not None)
        if user is not None:
            self.unlock_action.setEnabled(in_future(user.locked_until))
            self.totp_action.setEnabled(user.totp_enabled)
            self.reset_action.setEnabled(user.active)

    def saved(self, user: UserOut, created: bool) -> None:
        """Our own save came back: show it at once and keep it selected after the refresh."""
        self._select_after_load = user.id
        if not created:
            self.model.replace_row(user)
        self.say(f"{user.full_name} is created." if created else f"{user.full_name} is saved.")

    def new_user(self) -> UserDialog | None:
        if not can(self.me, "create"):
            return None
        dialog = UserDialog(self)
        dialog.open()
        return dialog

    def edit_selected(self) -> UserDialog | None:
        user = self.selected()
        if user is None or not can(self.me, "edit"):
            return None
        dialog = UserDialog(self, user)
        dialog.open()
        return dialog

    def deactivate_selected(self) -> DeactivateDialog | None:
        user = self.selected()
        if user is None or not self.deactivate_button.isEnabled():
            return None
        dialog = DeactivateDialog(self, user)
        dialog.open()
        return dialog

    async def latest_version(self, user_id: int) -> int:
        """One-click actions ("set the role to X") act on the user as they are now: a sign-in
        since the list loaded also bumps the version, and is no reason to refuse."""
        return (await admin_api.get_user(self.api, user_id)).version

    def reactivate_selected(self) -> None:
        user = self.selected()
        if user is None or user.active:
            return
        user_id = user.id

        async def reactivate() -> UserOut:
            version = await self.latest_version(user_id)
            return await admin_api.reactivate_user(self.api, user_id, version)

        operations.run(
            self, reactivate(), success=lambda u: self.say(f"{u.full_name} can sign in again."), changed=USERS
        )

    def change_role_selected(self, role_id: int) -> None:
        user = self.selected()
        if user is None or user.role_id == role_id:
            return
        role = self._name(self.roles, role_id, "the new role")
        user_id = user.id

        async def change() -> UserOut:
            version = await self.latest_version(user_id)
            return await admin_api.update_user(self.api, user_id, {"version": version, "role_id": role_id})

        operations.run(
            self, change(), success=lambda u: self.say(f"{u.full_name} now has the role {role}."), changed=USERS
        )

    def unlock_selected(self) -> None:
        user = self.selected()
        if user is None:
            return
        operations.run(
            self,
            admin_api.unlock_user(self.api, user.id),
            success=lambda _: self.say(f"{user.full_name} is unlocked."),
            changed=USERS,
        )

    def password_selected(self) -> None:
        user = self.selected()
        if user is not None:
            PasswordDialog(self, user).open()

    def send_reset_selected(self) -> None:
        user = self.selected()
        if user is None:
            return
        operations.run(
            self,
            admin_api.send_reset(self.api, user.id),
            success=lambda _: self.say(f"A password reset email is on its way to {user.email}."),
        )

    def reset_2fa_selected(self) -> None:
        user = self.selected()
        if user is None:
            return

        def reset() -> None:
            operations.run(
                self,
                admin_api.reset_2fa(self.api, user.id),
                changed=USERS,
                success=lambda _: self.say(
                    f"Two-factor sign-in is off for {user.full_name}; they set it up again at next sign-in if required."
                ),
            )

        confirm(
            self,
            "Reset two-factor sign-in",
            f"Turn off two-factor sign-in for {user.full_name}? Use this when they lost their phone.",
            "Reset 2FA",
            reset,
        )

    def screenshot_states(self) -> list[ScreenshotState]:
        def deactivate() -> QWidget | None:
            other = next((r for r in self.model.rows() if r.id != self.me.id and r.active), None)
            if other is None:
                return None
            self.table.select_key(other.id)
            return self.deactivate_selected()

        return [
            ("admin-users", lambda: None),
            ("admin-users-new", self.new_user),
            ("admin-users-deactivate", deactivate),
        ]
