"""Sign in again without losing anything on screen, when the session ended mid-work."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crm_desktop.api import auth, version
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.operations.errors import mark_field
from crm_desktop.tasks import spawn
from crm_desktop.views.login.messages import sign_in_message
from crm_desktop.views.login.pages import Message
from crm_desktop.widgets.form import CodeEdit, PasswordEdit, field


class ReauthDialog(QDialog):
    def __init__(self, api: ApiClient, email: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api, self.email = api, email
        self.setWindowTitle("Sign in again")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 22)
        layout.setSpacing(12)
        title = QLabel("Your session has ended")
        title.setProperty("role", "heading")
        layout.addWidget(title)
        text = QLabel(f"Enter the password for {email} to carry on. Everything on screen stays as it is.")
        text.setWordWrap(True)
        text.setProperty("role", "muted")
        layout.addWidget(text)
        self.alert = Message("alert")
        layout.addWidget(self.alert)
        self.password = field(layout, "Password", PasswordEdit())
        self.code_box = QVBoxLayout()
        self.code = CodeEdit()
        field(self.code_box, "Code from your authenticator app", self.code)
        code_column = self.code.parentWidget()
        assert code_column is not None  # field() put the code in its labelled column
        self.code_column = code_column
        layout.addLayout(self.code_box)
        self.code_column.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Sign out")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        self.ok = QPushButton("Continue")
        self.ok.setProperty("role", "primary")
        self.ok.setDefault(True)
        self.ok.clicked.connect(self._submit)
        buttons.addWidget(cancel)
        buttons.addWidget(self.ok)
        layout.addLayout(buttons)
        self.setMinimumWidth(420)

    async def ask(self) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(result: int) -> None:
            if not future.done():
                future.set_result(result == QDialog.DialogCode.Accepted)

        self.finished.connect(done)
        self.open()
        self.password.setFocus()
        return await future

    def _submit(self) -> None:
        assert isinstance(self.password, PasswordEdit)
        if not self.password.text():
            mark_field(self.password, "Enter your password.")
            return
        spawn(self._login(self.password.text(), self.code.code() or None))

    async def _login(self, password: str, otp: str | None) -> None:
        self.ok.setEnabled(False)
        try:
            await version.ensure_fits(self.api)  # the server may have been upgraded meanwhile
            await auth.login(self.api, self.email, password, otp)
        except ApiError as error:
            if error.code == "otp_required":
                self.code_column.show()
                self.code.setFocus()
                self.alert.say("")
            else:
                self.alert.say(sign_in_message(error, self.api.base_url))
            return
        finally:
            self.ok.setEnabled(True)
        self.accept()
