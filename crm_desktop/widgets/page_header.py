"""The header of a module page with more than one view (Leads, Tickets): title and subtitle, a
segmented switch between the views, and the page's "New …" button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop.widgets.visibility import shown_if


class PageHeader(QWidget):
    """`views` is the button group of the switch (ids in the order given); `buttons[i]` the i-th."""

    def __init__(
        self,
        title: str,
        subtitle: str,
        views: list[tuple[str, str]],
        new_text: str,
        can_create: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pageHeader")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        words = QVBoxLayout()
        words.setSpacing(2)
        heading = QLabel(title)
        heading.setProperty("role", "title")
        caption = QLabel(subtitle)
        caption.setProperty("role", "muted")
        words.addWidget(heading)
        words.addWidget(caption)
        row.addLayout(words, 1)
        switch = QWidget()
        switch.setObjectName("viewSwitch")
        segments = QHBoxLayout(switch)
        segments.setContentsMargins(3, 3, 3, 3)
        segments.setSpacing(2)
        self.views = QButtonGroup(self)
        self.buttons: list[QPushButton] = []
        for index, (text, shortcut) in enumerate(views):
            button = QPushButton(text)
            button.setToolTip(f"{text} ({shortcut})")
            button.setCheckable(True)
            button.setProperty("role", "segment")
            self.views.addButton(button, index)
            segments.addWidget(button)
            self.buttons.append(button)
        self.buttons[0].setChecked(True)
        row.addWidget(switch, 0, Qt.AlignmentFlag.AlignBottom)
        self.new_button = QPushButton(new_text)
        self.new_button.setProperty("role", "primary")
        self.new_button.setToolTip(f"{new_text} (Ctrl+N)")
        shown_if(self.new_button, can_create)
        row.addWidget(self.new_button, 0, Qt.AlignmentFlag.AlignBottom)
