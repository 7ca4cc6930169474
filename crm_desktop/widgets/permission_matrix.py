"""The role matrix: one row per module, a checkbox per action, and the record scope of the module.

It shows a role's permissions (the contract's ModuleGrant per module) and gives back the ticked ones
in the request body's shape ({module: {"actions": [...], "scope": "own"}}); modules and actions are
imported from the server's contract so the desktop never invents a module or an action.
A module with no action ticked is left out, as the server does.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from crm_desktop import format
from crm_server.contract.auth import ACTIONS, MODULES, Permissions, Scope

SCOPE_LABELS = {Scope.own.value: "Own records", Scope.team.value: "Team's records", Scope.all.value: "All records"}


class PermissionMatrix(QWidget):
    """Checkbox grid over MODULES x ACTIONS with a scope combo per module; emits `changed`."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[tuple[str, str], QCheckBox] = {}
        self.scopes: dict[str, QComboBox] = {}
        self._column_buttons: list[QPushButton] = []
        self._loading = False
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(6)
        grid.addWidget(QLabel("<b>Module</b>"), 0, 0)
        for col, action in enumerate(ACTIONS, start=1):
            # A header button ticks or clears the whole column (e.g. "export" off everywhere).
            button = QPushButton(format.label(action))
            button.setProperty("role", "link")
            button.setToolTip(f"Tick or clear “{format.label(action)}” for every module")
            button.clicked.connect(lambda _=False, a=action: self._toggle_column(a))
            self._column_buttons.append(button)
            grid.addWidget(button, 0, col, Qt.AlignmentFlag.AlignHCenter)
        grid.addWidget(QLabel("<b>Records</b>"), 0, len(ACTIONS) + 1)
        for row, module in enumerate(MODULES, start=1):
            grid.addWidget(QLabel(format.label(module)), row, 0)
            for col, action in enumerate(ACTIONS, start=1):
                box = QCheckBox()
                box.setObjectName(f"perm.{module}.{action}")
                box.setAccessibleName(f"{format.label(module)}: {format.label(action)}")
                box.toggled.connect(lambda on, m=module, a=action: self._on_toggled(m, a, on))
                self.boxes[(module, action)] = box
                grid.addWidget(box, row, col, Qt.AlignmentFlag.AlignHCenter)
            scope = QComboBox()
            scope.setObjectName(f"scope.{module}")
            scope.setAccessibleName(f"{format.label(module)}: which records")
            for value, label in SCOPE_LABELS.items():
                scope.addItem(label, value)
            scope.currentIndexChanged.connect(lambda _=0: self._emit())
            self.scopes[module] = scope
            grid.addWidget(scope, row, len(ACTIONS) + 1)
        grid.setColumnStretch(len(ACTIONS) + 2, 1)

    def _emit(self) -> None:
        if not self._loading:
            self.changed.emit()

    def _on_toggled(self, module: str, action: str, on: bool) -> None:
        # "Create", "edit" and friends make no sense without "view": they follow it both ways.
        if not self._loading:
            if action == "view" and not on:
                for other in (a for a in ACTIONS if a != "view"):
                    self.boxes[(module, other)].setChecked(False)
            elif action != "view" and on:
                self.boxes[(module, "view")].setChecked(True)
        self.scopes[module].setEnabled(any(self.boxes[(module, a)].isChecked() for a in ACTIONS))
        self._emit()

    def _toggle_column(self, action: str) -> None:
        boxes = [self.boxes[(m, action)] for m in MODULES]
        target = not all(b.isChecked() for b in boxes)
        for box in boxes:
            box.setChecked(target)

    def set_permissions(self, permissions: Permissions) -> None:
        """Show a role's grants (the contract's ModuleGrant per module; a module left out has none)."""
        self._loading = True
        try:
            for module in MODULES:
                grant = permissions.get(module)
                actions = set(grant.actions) if grant is not None else set()
                for action in ACTIONS:
                    self.boxes[(module, action)].setChecked(action in actions)
                combo = self.scopes[module]
                scope = grant.scope if grant is not None else Scope.own
                combo.setCurrentIndex(max(combo.findData(scope.value), 0))
                combo.setEnabled(bool(actions))
        finally:
            self._loading = False

    def permissions(self) -> dict[str, dict[str, Any]]:
        """The ticked grants in the wire's shape: the role request body's "permissions", sent as is."""
        out: dict[str, dict[str, Any]] = {}
        for module in MODULES:
            actions = [a for a in ACTIONS if self.boxes[(module, a)].isChecked()]
            if actions:
                out[module] = {"actions": actions, "scope": self.scopes[module].currentData()}
        return out

    def set_editable(self, editable: bool) -> None:
        for widget in [*self.boxes.values(), *self.scopes.values(), *self._column_buttons]:
            widget.setEnabled(editable)
        if editable:
            for module in MODULES:
                self.scopes[module].setEnabled(any(self.boxes[(module, a)].isChecked() for a in ACTIONS))
