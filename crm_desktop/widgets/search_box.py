"""The global search box in the top bar (Ctrl+K focuses it).

The focus stays in the box while its results show below it, so the box passes the keys that work
the results on: Down / Up move through them (``moved``), Enter takes the one selected (``submitted``
then lets the controller choose), Escape closes them (``dismissed``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from crm_desktop import icons


class SearchBox(QLineEdit):
    submitted = Signal(str)
    moved = Signal(int)  # +1 Down, -1 Up
    dismissed = Signal()

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

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and not event.modifiers():
            self.moved.emit(1 if key == Qt.Key.Key_Down else -1)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.dismissed.emit()
        super().keyPressEvent(event)
