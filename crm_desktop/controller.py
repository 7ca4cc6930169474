"""What the app does from start to quit: restore the session or show the login window, open the
main window, sign out, sign in again when a session ends, and quit when the last window closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from PySide6.QtCore import QObject, Signal

from crm_desktop import config
from crm_desktop.api import auth, credentials, version
from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.local_server import LocalServer
from crm_desktop.session import Session
from crm_desktop.tasks import spawn
from crm_desktop.views.login.reauth_dialog import ReauthDialog
from crm_desktop.views.login.window import LoginWindow, SignedIn
from crm_desktop.views.main_window import MainWindow
from crm_server.contract.auth import Me

log = logging.getLogger(__name__)


class DesktopApp(QObject):
    main_window_ready = Signal(object)  # MainWindow

    def __init__(self, server_url: str) -> None:
        super().__init__()
        self.server_url = server_url
        self.login: LoginWindow | None = None
        self.main: MainWindow | None = None
        self.session: Session | None = None
        self.finished = asyncio.Event()
        self._switching = False
        self.local: LocalServer | None = None  # the demo's server on this computer, when it runs

    # --- start -----------------------------------------------------------------------------------

    async def start(self, email: str | None = None, password: str | None = None) -> None:
        """Sign in with the given credentials (demo), or with the token in the keyring, or ask."""
        if email and password:
            api = ApiClient(self.server_url)
            try:
                response = await auth.login(api, email, password)
            except ApiError as error:
                await api.close()
                self.show_login(email, error.message)
                return
            self.open_main(api, response.user)
            return
        email = config.remembered_email()
        token = await credentials.load_token(self.server_url, email) if email else None
        if token:
            api = ApiClient(self.server_url, token)
            try:
                await version.ensure_fits(api, retry=True)  # a server this app does not fit: said on the login window
                me = await auth.me(api)
            except ApiError as error:
                await api.close()
                notice = "Your session has ended. Sign in again." if error.status in (401, 403) else ""
                if isinstance(error, version.VersionMismatch):
                    notice = error.message
                if error.status in (401, 403):
                    await credentials.forget_token(self.server_url, email)
                self.show_login(email, notice)
                return
            if not (me.must_change_password or (me.totp_required and not me.totp_enabled)):
                self.open_main(api, me)
                return
            await api.close()
        self.show_login(email or "")

    async def start_demo(self, local: LocalServer | None = None) -> bool:
        """Start a local server on the embedded database with sample data and sign in as the demo
        admin (``--demo``, or "Try the demo" on the login window). False if it could not start.
        `local`: the demo's server when ``--demo`` launched it already (while Qt was loading)."""
        from crm_desktop.local_server import LocalServer, demo_data_dir
        from crm_desktop.views.splash import Splash
        from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD

        splash = Splash(
            "Preparing the demo…", "Starting a local server with sample data. The first time takes a few seconds."
        )
        splash.show()
        local = local or LocalServer(demo_data_dir())
        try:
            self.server_url = await asyncio.to_thread(local.start)
        except Exception as exc:
            log.exception("the demo server did not start")
            splash.fail(f"The demo could not start: {exc}")
            await splash.closed_event.wait()
            return False
        finally:
            if not splash.close_button.isVisible():
                splash.close()
        self.local = local
        await self.start(DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
        return True

    async def _demo_from_login(self) -> None:
        login, self.login = self.login, None
        if login is not None:
            self._switching = True
            login.close()
            login.deleteLater()
            self._switching = False
        if not await self.start_demo():
            self.show_login(config.remembered_email() or "")

    async def run(self) -> None:
        await self.finished.wait()
        await self.shutdown()

    # --- windows ---------------------------------------------------------------------------------

    def in_demo(self, server_url: str | None = None) -> bool:
        """Whether `server_url` (the current one by default) is the demo's server on this computer."""
        return self.local is not None and (server_url or self.server_url) == self.local.base_url

    def show_login(self, email: str = "", notice: str = "") -> LoginWindow:
        if self.in_demo():
            from crm_server import demo  # the demo's accounts, by role, and their password

            self.login = LoginWindow(self.server_url, email, notice, demo.accounts(), demo.DEMO_PASSWORD)
        else:
            self.login = LoginWindow(self.server_url, email, notice)
        self.login.signed_in.connect(self._signed_in)
        self.login.demo_requested.connect(lambda: spawn(self._demo_from_login()))
        self.login.closed.connect(self._login_closed)
        self.login.show()
        return self.login

    def _signed_in(self, result: SignedIn) -> None:
        assert self.login is not None
        api = self.login.take_api()
        self.server_url = api.base_url
        # The demo's server lives on a random port for this run only: remembering it would send the
        # next start (and a real installation's sign-in) to nowhere.
        if not self.in_demo(api.base_url):
            config.remember_sign_in(api.base_url, result.me.email)
            if api.token:
                spawn(credentials.save_token(api.base_url, result.me.email, api.token))
        self._switching = True
        self.login.close()
        self.login.deleteLater()
        self.login = None
        self._switching = False
        self.open_main(api, result.me)

    def open_main(self, api: ApiClient, me: Me) -> MainWindow:
        self.session = Session(api, me)
        api.reauth_handler = self._sign_in_again
        self.main = MainWindow(self.session)
        self.main.sign_out_requested.connect(lambda: spawn(self.sign_out()))
        self.main.closed.connect(self._main_closed)
        self.session.start()
        self.main.show()
        self.main.open_nth_module(1)
        self.main_window_ready.emit(self.main)
        return self.main

    def _login_closed(self) -> None:
        if not self._switching:
            self.finished.set()

    def _main_closed(self) -> None:
        if not self._switching:
            self.finished.set()

    async def _sign_in_again(self) -> bool:
        if self.session is None:
            return False
        dialog = ReauthDialog(self.session.api, self.session.me.email, self.main)
        ok = await dialog.ask()
        dialog.deleteLater()
        if ok and self.session.api.token:
            await credentials.save_token(self.session.api.base_url, self.session.me.email, self.session.api.token)
        elif not ok:
            spawn(self.sign_out(end_session=False))
        return ok

    async def sign_out(self, end_session: bool = True) -> None:
        session, main = self.session, self.main
        if session is None:
            return
        email = session.me.email
        self.session, self.main = None, None
        await session.close(sign_out=end_session)
        await credentials.forget_token(session.api.base_url, email)
        await session.api.close()
        self._switching = True
        if main is not None:
            main.close()
            main.deleteLater()
        self._switching = False
        self.show_login(email, "You are signed out." if end_session else "Your session has ended. Sign in again.")

    async def shutdown(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()
                await self.session.api.close()
            self.session = None
        for window in (self.main, self.login):
            if window is not None:
                self._switching = True
                window.close()
        self._switching = False
        if self.local is not None:
            local, self.local = self.local, None
            await asyncio.to_thread(local.stop)
