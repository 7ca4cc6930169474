"""Someone else saved a field this person is editing: their value and mine side by side, and a choice
for each field. Save answers the fields whose value to keep as mine (`chosen`); Cancel keeps the
edits in the window, unsaved.

    answer = await save_guarded(api, path, buffer.body())   # the saved record, or Conflicted
    ask_which(window, answer, buffer, LABELS, done)          # done(newest, what the form shows)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.widgets.edit_buffer import EditBuffer, Values


@dataclass(frozen=True)
class FieldConflict:
    field: str
    label: str
    theirs: str
    mine: str


class FieldConflictDialog(QDialog):
    chosen = Signal(set)

    def __init__(self, parent: QWidget | None, conflicts: list[FieldConflict]) -> None:
        super().__init__(parent)
        self.setObjectName("fieldConflictDialog")
        self.setWindowTitle("Changed by someone else")
        self.setModal(True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        intro = QLabel("While you were editing, someone else saved a different value. Choose which to keep:")
        intro.setWordWrap(True)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(6)
        self.keep_mine: dict[str, QRadioButton] = {}
        self.take_theirs: dict[str, QRadioButton] = {}
        for row, conflict in enumerate(conflicts):
            name = QLabel(conflict.label)
            name.setStyleSheet("font-weight: 600;")
            mine = QRadioButton(f"Mine: {conflict.mine}")
            mine.setObjectName(f"keep_mine_{conflict.field}")
            theirs = QRadioButton(f"Theirs: {conflict.theirs}")
            theirs.setObjectName(f"take_theirs_{conflict.field}")
            group = QButtonGroup(self)
            group.addButton(mine)
            group.addButton(theirs)
            mine.setChecked(True)
            grid.addWidget(name, row, 0)
            grid.addWidget(mine, row, 1)
            grid.addWidget(theirs, row, 2)
            self.keep_mine[conflict.field], self.take_theirs[conflict.field] = mine, theirs
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton("Save my choice", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setProperty("role", "primary")
        self.save_button.setDefault(True)
        buttons.addButton("Cancel", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(buttons)

    def accept(self) -> None:
        self.chosen.emit({name for name, button in self.keep_mine.items() if button.isChecked()})
        super().accept()


def shown(value: object) -> str:
    """A field's value in a sentence: lists joined, nothing said as such."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Conflicted:
    """A save refused because someone else changed a field I was editing: the record as it is now,
    and each such field with their value."""

    newest: Values  # the record now, in the wire's shape (what the edits are compared with)
    conflicts: list[dict[str, Any]]


async def save_guarded(api: ApiClient, path: str, body: Values) -> Values | Conflicted:
    try:
        return dict(await api.patch(path, body))
    except ApiError as exc:
        if exc.code != "field_changed":
            raise
        return Conflicted(dict(await api.get(path)), list(exc.extra.get("conflicts") or []))


def ask_which(
    parent: QWidget,
    conflicted: Conflicted,
    buffer: EditBuffer,
    labels: Mapping[str, str],
    done: Callable[[Values, Values], None],
    describe: Callable[[str, Any], str] = lambda _name, value: shown(value),
) -> FieldConflictDialog:
    """Show both values of each conflicting field (`describe` puts a value in words: a name for an
    id); on Save, settle the buffer and hand the window
    the newest record and what its form should show (it then saves again)."""
    edits = buffer.edits()
    names = [str(c.get("field")) for c in conflicted.conflicts]
    dialog = FieldConflictDialog(
        parent,
        [
            FieldConflict(
                name,
                labels.get(name, name.replace("_", " ").capitalize()),
                describe(name, c.get("theirs")),
                describe(name, edits.get(name)),
            )
            for name, c in zip(names, conflicted.conflicts, strict=True)
        ],
    )

    def chosen(keep: set[str]) -> None:
        latest = buffer.wire or conflicted.newest
        newest = latest if latest.get("version", 0) > conflicted.newest.get("version", 0) else conflicted.newest
        done(newest, buffer.settle(newest, names, keep))

    dialog.chosen.connect(chosen)
    dialog.open()
    return dialog
