"""Whose follow-ups a view shows: mine, everyone I can see, or one person picked by name.

The picker offers every colleague; what comes back is the server's answer for the caller's scope (a
manager sees the team's, a salesperson their own), so asking for someone out of reach shows nothing
rather than an error.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from crm_desktop.session import Session
from crm_desktop.widgets.user_picker import UserPicker


class Whose(StrEnum):
    mine = "mine"
    everyone = "everyone"
    person = "person"


WORDS = {
    Whose.mine: "My follow-ups",
    Whose.everyone: "Everyone I can see",
    Whose.person: "One person…",
}


class PersonFilter(QWidget):
    """A choice of whose follow-ups, and a colleague picker beside it while "One person…" is chosen.
    ``changed`` fires when what to ask for changes (not while a person is still being typed)."""

    changed = Signal()

    def __init__(self, session: Session, everyone: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.mode = QComboBox()
        self.mode.setAccessibleName("Whose follow-ups")
        self.mode.setToolTip("Whose follow-ups to show")
        for whose in Whose:
            if whose is Whose.everyone and not everyone:
                continue
            self.mode.addItem(WORDS[whose], whose.value)
        self.picker = UserPicker(session.api, active_only=False)
        self.picker.setAccessibleName("Person")
        self.picker.setPlaceholderText("Type a colleague's name…")
        self.picker.setMinimumWidth(220)
        self.picker.hide()
        row.addWidget(self.mode)
        row.addWidget(self.picker)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.picker.user_changed.connect(self._person_changed)

    def whose(self) -> Whose:
        return Whose(self.mode.currentData())

    def set_whose(self, whose: Whose) -> None:
        self.mode.setCurrentIndex(self.mode.findData(whose.value))

    def choose_person(self, user_id: int, label: str) -> None:
        """As if the person had been picked from the list (tests and the screenshot tool)."""
        self.set_whose(Whose.person)
        self.picker.set_user(user_id, label)

    def owner_id(self) -> int | None:
        """Whose follow-ups to ask for: None for everyone in reach (or nobody picked yet)."""
        whose = self.whose()
        if whose is Whose.mine:
            return self.session.me.id
        return self.picker.user_id if whose is Whose.person else None

    def ready(self) -> bool:
        """False while "One person…" is chosen and nobody is picked yet: nothing to ask for."""
        return self.whose() is not Whose.person or self.picker.user_id is not None

    def person_name(self) -> str | None:
        """The picked person's name ("Ana Pop"), when one person is shown."""
        if self.whose() is not Whose.person or self.picker.user_id is None:
            return None
        return self.picker.text().split(" <", 1)[0] or None

    def is_busy(self) -> bool:
        return self.picker.is_busy()

    def _mode_changed(self, _index: int) -> None:
        person = self.whose() is Whose.person
        self.picker.setVisible(person)
        if person and self.picker.user_id is None:
            self.picker.setFocus()
            self.picker.search_now()  # the first names show as soon as the box is clicked
            return
        self.changed.emit()

    def _person_changed(self, user_id: int | None) -> None:
        if self.whose() is Whose.person and user_id is not None:
            self.changed.emit()
