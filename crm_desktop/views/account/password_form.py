"""Change one's password (also the must-change step right after signing in with a temporary one)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from crm_desktop import operations
from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.errors import mark_field
from crm_desktop.widgets.form import PasswordEdit, field
from crm_desktop.widgets.visibility import shown_if

POLICY_HINT = "At least 12 characters. A few unrelated words make a strong, memorable password."


class PasswordChangeForm(QWidget):
    """``current`` known (the password just typed at sign-in): only the new one is asked."""

    changed = Signal(str)  # the new password
    cancelled = Signal()

    def __init__(
        self,
        api: ApiClient,
        current: str | None = None,
        cancellable: bool = True,
        submit_text: str = "Change password",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.api = api
        self.known_current = current
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        self.current = PasswordEdit()
        if current is None:
            field(layout, "Current password", self.current)
        self.new = field(layout, "New password", PasswordEdit(), POLICY_HINT)
        self.repeat = field(layout, "Repeat new password", PasswordEdit())
        assert isinstance(self.new, PasswordEdit) and isinstance(self.repeat, PasswordEdit)
        self.repeat.returnPressed.connect(self.submit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)  # Enter submits, never cancels
        self.cancel_button.clicked.connect(self.cancelled)
        shown_if(self.cancel_button, cancellable)
        self.submit_button = QPushButton(submit_text)
        self.submit_button.setProperty("role", "primary")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.submit)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.submit_button)
        layout.addSpacing(4)
        layout.addLayout(buttons)

    def focus_first(self) -> None:
        (self.current if self.known_current is None else self.new).setFocus()

    def submit(self) -> None:
        new = self.new.text()
        if not new:
            mark_field(self.new, "Enter a new password.")
            return
        if new != self.repeat.text():
            mark_field(self.repeat, "The two passwords differ.")
            return
        current = self.known_current if self.known_current is not None else self.current.text()
        operations.run(
            self,
            auth.change_password(self.api, current, new),
            success=lambda _: self.changed.emit(new),
            changed=frozenset({"me"}),
            fields={"current_password": self.current, "new_password": self.new},
            busy=self.submit_button,
        )
