"""Notification settings: one checkbox per kind of notification (labels come from the server, so a
new kind shows up without a desktop release). Save sends only what changed; Esc cancels."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop import operations
from crm_desktop.api import notifications
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.tasks import spawn
from crm_server.contract.activities import NotificationPreferencesIn


class NotificationPrefsDialog(QDialog):
    def __init__(self, api: ApiClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.checks: dict[str, QCheckBox] = {}
        self.saved: dict[str, bool] = {}
        self.loaded = False
        self.setWindowTitle("Notification settings")
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 22)
        layout.setSpacing(14)
        heading = QLabel("Notification settings")
        heading.setProperty("role", "heading")
        layout.addWidget(heading)
        sub = QLabel("Choose what the bell tells you about. Everything else still shows on its screen.")
        sub.setProperty("role", "muted")
        sub.setWordWrap(True)
        layout.addWidget(sub)
        self.card = QFrame()
        self.card.setProperty("role", "card")
        self.list = QVBoxLayout(self.card)
        self.list.setContentsMargins(18, 14, 18, 14)
        self.list.setSpacing(10)
        self.status = QLabel("Loading…")
        self.status.setProperty("role", "muted")
        self.list.addWidget(self.status)
        layout.addWidget(self.card)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.save_button = QPushButton("Save")
        self.save_button.setProperty("role", "primary")
        self.save_button.setDefault(True)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        spawn(self._load())

    async def _load(self) -> None:
        try:
            kinds = await notifications.preferences(self.api)
        except ApiError as exc:
            self.status.setText("Your settings could not be loaded.")
            operations.handle_error(self, exc)
            return
        self.status.hide()
        for kind in kinds:
            check = QCheckBox(kind.label)
            check.setChecked(kind.enabled)
            check.setAccessibleName(kind.label)
            self.checks[kind.kind] = check
            self.list.addWidget(check)
        self.saved = {kind: check.isChecked() for kind, check in self.checks.items()}
        self.loaded = True
        self.save_button.setEnabled(True)
        if self.checks:
            next(iter(self.checks.values())).setFocus()

    def choices(self) -> dict[str, bool]:
        return {kind: check.isChecked() for kind, check in self.checks.items()}

    def save(self) -> None:
        if not self.loaded:
            return
        changed = {kind: on for kind, on in self.choices().items() if self.saved.get(kind) != on}
        if not changed:
            self.accept()
            return
        operations.run(
            self,
            notifications.set_preferences(self.api, NotificationPreferencesIn(enabled=changed)),
            success=lambda _kinds: self.accept(),
            changed=notifications.PREFERENCES_CHANGED,
            busy=self.save_button,
        )
