"""The login window: server, email and password; then 2FA, and the first-time steps if needed.

Emits ``signed_in(SignedIn)`` once the user may use the app: password changed if it was temporary,
two-factor sign-in set up if the role requires it. The window owns its ApiClient until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from crm_desktop import icons, operations
from crm_desktop.api import auth, version
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.config import normalize_url
from crm_desktop.operations.errors import mark_field
from crm_desktop.tasks import spawn
from crm_desktop.views.login.messages import sign_in_message
from crm_desktop.views.login.pages import (
    ForgotPage,
    MustChangePage,
    OtpPage,
    Page,
    ResetPage,
    SignInPage,
    TotpSetupPage,
)
from crm_server.contract.auth import Me


def _loop_running() -> bool:
    try:
        return asyncio.get_event_loop().is_running()
    except RuntimeError:
        return False


@dataclass
class SignedIn:
    api: ApiClient
    me: Me
    password: str


class LoginWindow(QWidget):
    signed_in = Signal(object)  # SignedIn
    closed = Signal()
    demo_requested = Signal()

    def __init__(
        self,
        server_url: str,
        email: str = "",
        notice: str = "",
        demo_accounts: Sequence[tuple[str, str, str]] = (),
        demo_password: str = "",
    ) -> None:
        """`demo_accounts` (email, name, role) and their password: this is the demo's server, and the
        window offers its accounts by role."""
        super().__init__()
        self.setObjectName("loginWindow")
        self.setWindowTitle("Sign in - CRM")
        self.setWindowIcon(icons.app_icon())
        self.api: ApiClient | None = None
        self.me: Me | None = None
        self._password = ""
        self._task: asyncio.Task[None] | None = None
        root = QHBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(self._brand_panel())
        right = QVBoxLayout()
        right.setContentsMargins(56, 40, 56, 32)
        self.stack = QStackedWidget()
        self.stack.setFixedWidth(400)
        right.addStretch(1)
        right.addWidget(self.stack, 0, Qt.AlignmentFlag.AlignHCenter)
        right.addStretch(1)
        root.addLayout(right, 1)

        self.sign_in = SignInPage()
        self.otp = OtpPage()
        self.forgot = ForgotPage()
        self.reset = ResetPage()
        for page in (self.sign_in, self.otp, self.forgot, self.reset):
            self.stack.addWidget(page)
        self.must_change: MustChangePage | None = None
        self.totp_setup: TotpSetupPage | None = None

        self.sign_in.server.setText(server_url)
        self.sign_in.email.setText(email)
        if demo_accounts:
            self.sign_in.offer_demo_accounts(demo_accounts, demo_password)
        self.sign_in.submitted.connect(self._submit_password)
        self.sign_in.forgot.connect(self._show_forgot)
        self.sign_in.demo.connect(self.demo_requested)
        self.otp.submitted.connect(self._submit_otp)
        self.otp.back.connect(lambda: self.show_page(self.sign_in))
        self.forgot.submitted.connect(self._send_reset)
        self.forgot.have_code.connect(lambda: self.show_page(self.reset))
        self.forgot.back.connect(lambda: self.show_page(self.sign_in))
        self.reset.submitted.connect(self._reset_password)
        self.reset.back.connect(lambda: self.show_page(self.sign_in))
        if notice:
            self.sign_in.info.say(notice)
        self.resize(940, 620)
        self.setMinimumSize(820, 560)
        self.show_page(self.sign_in)

    def _brand_panel(self) -> QWidget:
        panel = QWidget()
        panel.setObjectName("brandPanel")
        panel.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        panel.setFixedWidth(330)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(36, 40, 36, 32)
        logo = QLabel()
        logo.setPixmap(icons.app_icon().pixmap(QSize(52, 52)))
        layout.addWidget(logo)
        layout.addSpacing(18)
        name = QLabel("CRM")
        name.setProperty("role", "title")
        layout.addWidget(name)
        tagline = QLabel("Leads, clients, tickets and invoices in one place, for the whole office.")
        tagline.setWordWrap(True)
        tagline.setProperty("role", "muted")
        layout.addWidget(tagline)
        layout.addStretch(1)
        foot = QLabel("Your data stays on your company's server.")
        foot.setWordWrap(True)
        foot.setProperty("role", "muted")
        layout.addWidget(foot)
        return panel

    # --- navigation ------------------------------------------------------------------------------

    @property
    def page(self) -> Page:
        page = self.stack.currentWidget()
        assert isinstance(page, Page)
        return page

    def show_page(self, page: Page) -> None:
        page.alert.say("")
        self.stack.setCurrentWidget(page)
        first = page.first_field()
        if first is not None:
            first.setFocus()

    def show_notice(self, text: str) -> None:
        """Called by the operations error handler (e.g. offline) while this window is in front."""
        self.page.alert.say(text)

    def _client(self) -> ApiClient:
        url = normalize_url(self.sign_in.server.text())
        if self.api is None or self.api.base_url != url:
            if self.api is not None:
                spawn(self.api.close())
            self.api = ApiClient(url)
        return self.api

    @property
    def server_url(self) -> str:
        return normalize_url(self.sign_in.server.text())

    # --- signing in ------------------------------------------------------------------------------

    def _submit_password(self) -> None:
        page = self.sign_in
        page.alert.say("")
        page.info.say("")
        if not self.server_url:
            mark_field(page.server, "Enter the address of your CRM server.")
            return
        if not page.email.text().strip():
            mark_field(page.email, "Enter your email.")
            return
        if not page.password.text():
            mark_field(page.password, "Enter your password.")
            return
        self._start(self._login(None))

    def _submit_otp(self) -> None:
        if not self.otp.code.code():
            mark_field(self.otp.code, "Type the code from your authenticator app.")
            return
        self._start(self._login(self.otp.code.code()))

    def _start(self, coro: object) -> None:
        if self._task is not None and not self._task.done():
            return
        self._task = spawn(coro)  # type: ignore[arg-type]

    async def _login(self, otp: str | None) -> None:
        page = self.otp if otp else self.sign_in
        page.busy(True)
        email, password = self.sign_in.email.text().strip(), self.sign_in.password.text()
        try:
            await version.ensure_fits(self._client())  # an app that does not fit says so, and stops here
            response = await auth.login(self._client(), email, password, otp)
        except ApiError as error:
            if error.code == "otp_required":
                self.otp.code.clear()
                self.show_page(self.otp)
            else:
                if otp and error.code not in ("bad_otp",):
                    self.show_page(self.sign_in)
                    page = self.sign_in
                page.alert.say(sign_in_message(error, self.server_url))
                if error.code == "bad_otp":
                    self.otp.code.selectAll()
                    self.otp.code.setFocus()
                elif error.code == "bad_credentials":
                    self.sign_in.password.selectAll()
                    self.sign_in.password.setFocus()
            return
        finally:
            page.busy(False)
        self._password = password
        self.me = response.user
        self._next_step()

    def _next_step(self) -> None:
        """After sign-in: the first-time steps the server asks for, then done."""
        assert self.api is not None and self.me is not None
        if self.me.must_change_password:
            self.must_change = MustChangePage(self.api, self._password)
            self.must_change.form.changed.connect(self._password_changed)
            self.stack.addWidget(self.must_change)
            self.show_page(self.must_change)
            return
        if self.me.totp_required and not self.me.totp_enabled:
            self.totp_setup = TotpSetupPage(self.api)
            self.totp_setup.form.finished.connect(self._totp_done)
            self.stack.addWidget(self.totp_setup)
            self.show_page(self.totp_setup)
            self.totp_setup.form.begin()
            return
        self.signed_in.emit(SignedIn(self.api, self.me, self._password))

    def _password_changed(self, new_password: str) -> None:
        self._password = new_password
        self._start(self._refresh_me())

    def _totp_done(self) -> None:
        self._start(self._refresh_me())

    async def _refresh_me(self) -> None:
        assert self.api is not None
        try:
            self.me = await auth.me(self.api)
        except ApiError as error:
            self.page.alert.say(sign_in_message(error, self.server_url))
            return
        self._next_step()

    # --- forgotten password ----------------------------------------------------------------------

    def _show_forgot(self) -> None:
        self.forgot.email.setText(self.sign_in.email.text())
        self.show_page(self.forgot)

    def _send_reset(self) -> None:
        email = self.forgot.email.text().strip()
        if not email:
            mark_field(self.forgot.email, "Enter your email.")
            return

        def sent(_: object) -> None:
            self.show_page(self.reset)
            self.reset.info.say(f"If {email} has an account, a reset code is on its way. It is valid for 30 minutes.")

        operations.run(
            self.forgot, auth.forgot_password(self._client(), email), success=sent, fields={"email": self.forgot.email}
        )

    def _reset_password(self) -> None:
        page = self.reset
        if page.new.text() != page.repeat.text():
            mark_field(page.repeat, "The two passwords differ.")
            return

        def done(_: object) -> None:
            page.token.clear()
            page.new.clear()
            page.repeat.clear()
            self.show_page(self.sign_in)
            self.sign_in.password.clear()
            self.sign_in.info.say("Your password is changed. Sign in with the new one.")

        operations.run(
            page,
            auth.reset_password(self._client(), page.token.text().strip(), page.new.text()),
            success=done,
            fields={"token": page.token, "new_password": page.new},
        )

    def take_api(self) -> ApiClient:
        """Hand the signed-in client over (the window will not close it)."""
        assert self.api is not None
        api, self.api = self.api, None
        return api

    def closeEvent(self, event: object) -> None:  # type: ignore[override]
        if self.api is not None and _loop_running():
            spawn(self.api.close())
        self.api = None
        self.closed.emit()
        super().closeEvent(event)  # type: ignore[arg-type]
