"""Roles: the permission matrix (module x action, record scope, "require 2FA"), create, copy, rename,
delete. The server refuses to delete a role people still have; its message is shown as it is."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
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
    set_danger,
    style_list,
    title_label,
)
from crm_desktop.widgets.permission_matrix import PermissionMatrix
from crm_server.contract.auth import Me, RoleOut

ROLES = admin_api.ROLES


def grants_body(role: RoleOut) -> dict[str, dict[str, Any]]:
    """The role's stored permissions as a request body's "permissions" (sent as is)."""
    return {module: grant.model_dump(mode="json") for module, grant in role.permissions.items()}


ID_ROLE = Qt.ItemDataRole.UserRole + 1


class RolesPage(AdminPage):
    """A list of roles on the left, the selected role's matrix on the right."""

    title = "Roles"
    areas = ROLES

    def __init__(self, api: ApiClient, me: Me, parent: QWidget | None = None) -> None:
        super().__init__(api, me, parent)
        self.roles: dict[int, RoleOut] = {}
        self.current: RoleOut | None = None
        self.dirty = False
        self._select_after_load: int | None = None

        self.list = QListWidget()
        self.list.setObjectName("roleList")
        self.list.setAccessibleName("Roles")
        self.list.setMinimumWidth(200)
        style_list(self.list)
        self.list.currentItemChanged.connect(self._on_current_changed)

        self.new_button = QPushButton("New role")
        self.new_button.setToolTip("New role (Ctrl+N)")
        self.new_button.clicked.connect(self.new_role)
        self.copy_button = QPushButton("Copy…")
        self.copy_button.setToolTip("Duplicate the selected role under a new name")
        self.copy_button.clicked.connect(self.copy_role)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename the selected role (F2)")
        self.rename_button.clicked.connect(self.rename_role)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected role (Del)")
        self.delete_button.clicked.connect(self.delete_role)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        left_layout.addWidget(self.list, 1)
        row1 = QHBoxLayout()
        row1.addWidget(self.new_button)
        row1.addWidget(self.copy_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.rename_button)
        row2.addWidget(self.delete_button)
        left_layout.addLayout(row1)
        left_layout.addLayout(row2)

        self.heading = QLabel("")
        self.heading.setProperty("role", "heading")
        self.description = QLineEdit()
        self.description.setAccessibleName("Description")
        self.description.setPlaceholderText("What people with this role do")
        self.require_2fa = QCheckBox("Require two-factor sign-in for people with this role")
        self.matrix = PermissionMatrix()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.matrix)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save the role (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.revert)
        self.users_note = QLabel("")
        self.users_note.setProperty("role", "muted")
        form = QFormLayout()
        form.addRow("Description", field(self.description))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(12, 0, 0, 0)
        right_layout.setSpacing(10)
        right_layout.addWidget(self.heading)
        right_layout.addWidget(self.users_note)
        right_layout.addLayout(form)
        right_layout.addWidget(self.require_2fa)
        right_layout.addWidget(scroll, 1)
        save_row = QHBoxLayout()
        save_row.addStretch(1)
        save_row.addWidget(self.revert_button)
        save_row.addWidget(self.save_button)
        right_layout.addLayout(save_row)
        self.editor = right

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([230, 770])

        self.root.addWidget(title_label("Roles", "What each role may do, module by module, and on whose records."))
        self.root.addWidget(self.notice)
        self.root.addWidget(splitter, 1)

        self.matrix.changed.connect(self._mark_dirty)
        self.description.textEdited.connect(self._mark_dirty)
        self.require_2fa.toggled.connect(self._mark_dirty)
        self.shortcut(QKeySequence.StandardKey.New, self.new_role)
        self.shortcut(QKeySequence.StandardKey.Save, self.save)
        self.shortcut(QKeySequence(Qt.Key.Key_F2), self.rename_role, widget=self.list)
        self.shortcut(QKeySequence(Qt.Key.Key_Delete), self.delete_role, widget=self.list)
        self.list.itemActivated.connect(lambda _: self.matrix.setFocus())
        self._show(None)

    # --- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(admin_api.list_roles(self.api), self._arrived)

    def _arrived(self, roles: list[RoleOut]) -> None:
        self.roles = {r.id: r for r in roles}
        keep = self._select_after_load or (self.current.id if self.current else None)
        self._select_after_load = None
        self.list.blockSignals(True)
        self.list.clear()
        for role in roles:
            item = QListWidgetItem(self._item_text(role))
            item.setData(ID_ROLE, role.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        target = next((i for i in range(self.list.count()) if self.list.item(i).data(ID_ROLE) == keep), 0)
        if self.list.count():
            if self.dirty and self.current and self.current.id == keep:
                # Keep the person's unsaved edits; only the list was refreshed.
                self.list.blockSignals(True)
                self.list.setCurrentRow(target)
                self.list.blockSignals(False)
            else:
                self.list.setCurrentRow(target)
                self._show(self.roles[self.list.item(target).data(ID_ROLE)])
        else:
            self._show(None)

    @staticmethod
    def _item_text(role: RoleOut) -> str:
        people = role.user_count
        suffix = " · built-in" if role.builtin else ""
        return f"{role.name}\n{people} {'person' if people == 1 else 'people'}{suffix}"

    def on_live_event(self, event: Event) -> None:
        if self.loaded and event.entity in ("role", "user"):
            self.reload()  # a user's role change moves the counts

    # --- selection and editing -----------------------------------------------------------------

    def _on_current_changed(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if item is None:
            self._show(None)
            return
        role = self.roles.get(item.data(ID_ROLE))
        moving = role is None or self.current is None or role.id != self.current.id
        if self.dirty and previous is not None and moving:
            name = self.current.name if self.current else ""
            # Go back to the edited role until the person decides.
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)

            def discard() -> None:
                self.dirty = False
                self.list.setCurrentItem(item)

            confirm(self, "Unsaved changes", f"Discard your changes to the role {name}?", "Discard", discard)
            return
        self._show(role)

    def _show(self, role: RoleOut | None) -> None:
        self.current = role
        self.editor.setEnabled(role is not None)
        edit = can(self.me, "edit")
        if role is None:
            self.heading.setText("No role selected")
            self.users_note.setText("")
            self.matrix.set_permissions({})
        else:
            self.heading.setText(role.name + ("  (built-in)" if role.builtin else ""))
            people = role.user_count
            self.users_note.setText(f"{people} active {'person has' if people == 1 else 'people have'} this role.")
            self.description.setText(role.description)
            self.require_2fa.blockSignals(True)
            self.require_2fa.setChecked(role.require_2fa)
            self.require_2fa.blockSignals(False)
            self.matrix.set_permissions(role.permissions)
        self.matrix.set_editable(edit and role is not None)
        self.description.setReadOnly(not edit)
        self.require_2fa.setEnabled(edit)
        self.dirty = False
        self._update_actions()

    def _mark_dirty(self, *_: Any) -> None:
        if self.current is not None:
            self.dirty = True
            self._update_actions()

    def _update_actions(self) -> None:
        role = self.current
        self.new_button.setEnabled(can(self.me, "create"))
        self.copy_button.setEnabled(can(self.me, "create") and role is not None)
        self.rename_button.setEnabled(can(self.me, "edit") and role is not None)
        set_danger(self.delete_button, can(self.me, "delete") and role is not None and not role.builtin)
        self.save_button.setEnabled(can(self.me, "edit") and self.dirty)
        self.revert_button.setEnabled(self.dirty)

    def body(self, name: str | None = None) -> dict[str, Any]:
        assert self.current is not None
        return {
            "name": name if name is not None else self.current.name,
            "description": self.description.text().strip(),
            "require_2fa": self.require_2fa.isChecked(),
            "permissions": self.matrix.permissions(),
        }

    def save(self) -> None:
        if self.current is None or not self.dirty:
            return
        role = self.current
        call = admin_api.update_role(self.api, role.id, {**self.body(), "version": role.version})
        self.save_button.setEnabled(False)
        operations.run(
            self,
            call,
            success=self._saved,
            changed=ROLES,
            fields={"name": self.heading, "description": self.description, "permissions": self.matrix},
            reload=self._reload_discarding,
        )
        # The button comes back through _update_actions when the answer arrives.

    def _saved(self, role: RoleOut) -> None:
        self.roles[role.id] = role
        self._select_after_load = role.id
        self._show(role)
        self.say(f"The role {role.name} is saved. People with it see the change at their next request.")

    def _reload_discarding(self) -> None:
        self.dirty = False
        self.reload()

    def revert(self) -> None:
        self._show(self.current)

    def new_role(self) -> None:
        if not can(self.me, "create"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            operations.run(
                dialog,
                admin_api.create_role(self.api, {"name": name, "description": "", "permissions": {}}),
                success=lambda r: self._created(dialog, r),
                changed=ROLES,
                fields={"name": dialog.name},
            )

        NameDialog(self, "New role", "Name", "", submit).open()

    def copy_role(self) -> None:
        if self.current is None or not can(self.me, "create"):
            return
        body = self.body()

        def submit(dialog: NameDialog, name: str) -> None:
            operations.run(
                dialog,
                admin_api.create_role(self.api, {**body, "name": name}),
                success=lambda r: self._created(dialog, r),
                changed=ROLES,
                fields={"name": dialog.name},
            )

        NameDialog(self, "Copy role", "Name of the copy", f"Copy of {self.current.name}", submit).open()

    def _created(self, dialog: NameDialog, role: RoleOut) -> None:
        dialog.accept()
        self.dirty = False
        self._select_after_load = role.id
        self.say(f"The role {role.name} is created; tick what it may do and save.")

    def rename_role(self) -> None:
        role = self.current
        if role is None or not can(self.me, "edit"):
            return

        def submit(dialog: NameDialog, name: str) -> None:
            # Rename saves the stored role under the new name; unsaved matrix edits stay on screen.
            body = {
                "name": name,
                "description": role.description,
                "require_2fa": role.require_2fa,
                "permissions": grants_body(role),
                "version": role.version,
            }

            def renamed(saved: RoleOut) -> None:
                dialog.accept()
                self.roles[saved.id] = saved
                if self.current is not None and self.current.id == saved.id:
                    self.current = self.roles[saved.id]
                    self.heading.setText(saved.name)
                self.say(f"The role is now called {saved.name}.")

            operations.run(
                dialog,
                admin_api.update_role(self.api, role.id, body),
                success=renamed,
                changed=ROLES,
                fields={"name": dialog.name},
            )

        NameDialog(self, "Rename role", "New name", role.name, submit).open()

    def delete_role(self) -> None:
        role = self.current
        if role is None or not self.delete_button.isEnabled():
            return

        def delete() -> None:
            def deleted(_: object) -> None:
                self.dirty = False
                self.current = None
                self.say(f"The role {role.name} is deleted.")

            operations.run(self, admin_api.delete_role(self.api, role.id), success=deleted, changed=ROLES)

        confirm(self, "Delete role", f"Delete the role {role.name}? This cannot be undone.", "Delete", delete)

    def screenshot_states(self) -> list[ScreenshotState]:
        def salesperson() -> None:
            for i in range(self.list.count()):
                if self.list.item(i).text().startswith("Salesperson"):
                    self.list.setCurrentRow(i)

        return [("admin-roles", lambda: None), ("admin-roles-salesperson", salesperson)]
