"""The global search box in the top bar (Ctrl+K focuses it)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLineEdit, QWidget

from crm_desktop import icons


class SearchBox(QLineEdit):
    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchBox")
        self.setPlaceholderText("Search clients, leads, tickets…   Ctrl+K")
        self.setAccessibleName("Search")
        self.setClearButtonEnabled(True)
        self.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.setMinimumWidth(280)
        self.setMaximumWidth(520)
        self.returnPressed.connect(lambda: self.submitted.emit(self.text().strip()))

    def focus_and_select(self) -> None:
        self.setFocus()
        self.selectAll()
