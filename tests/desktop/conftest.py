"""Desktop tests: real Qt widgets offscreen, driven on a qasync loop, against the real server.

How to write a desktop test
---------------------------
Write a plain (sync) test function; pytest-asyncio's auto mode only touches ``async def`` tests,
so it never competes with the Qt loop. Ask for ``desk`` (a :class:`Desk`) and ``qtbot``:

    def test_something(desk: Desk, qtbot: QtBot) -> None:
        api = desk.signed_in_api()                          # ApiClient signed in as an admin
        window = MainWindow(Session(api, desk.run(auth.me(api))))
        qtbot.addWidget(window)
        window.show()
        qtbot.keyClicks(widget, "text")                     # type like a person
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        desk.wait_until(lambda: label.text() == "Saved")    # runs the qasync loop meanwhile

- ``desk.run(coro)`` runs a desktop coroutine to completion on the test's qasync loop.
- ``desk.wait_until(predicate)`` spins the same loop (Qt events and asyncio callbacks both run)
  until the predicate holds. Use it instead of ``qtbot.waitUntil``: the latter only pumps Qt
  events, outside a running asyncio loop, so coroutines would not advance.
- ``desk.on_server(coro)`` runs server-side set-up (``server.create_user``, ``server.session()``)
  on its own asyncio loop in a worker thread, away from the desktop's loop, as another process would.
- ``desk.server`` is the LiveServer (real app over HTTP on a fresh, migrated database).
- The OS keyring is an in-memory backend per test; QSettings write to the test's tmp folder;
  the change bus is new per test.
- Right after the test body its coroutines are cancelled and finished on the loop, and at the end
  every top-level window is closed: only ``qtbot.addWidget`` widgets the test itself owns (not
  windows the app deletes itself, e.g. DesktopApp's login and main windows).
- Garbage is collected on the GUI thread only (the live server runs in a thread of this process).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import httpx
import keyring
import pyotp
import PySide6.QtWidgets  # noqa: F401  (before qasync: it picks the first Qt binding it finds)
import pytest
import qasync
from keyring.backend import KeyringBackend
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QTextEdit,
    QWidget,
)

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.operations.bus import reset_change_bus
from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer

T = TypeVar("T")
CANCEL_TIMEOUT = 10  # seconds


class MemoryKeyring(KeyringBackend):
    """A keyring that lives for one test."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@dataclass
class Desk:
    """The test's qasync loop, its live server and helpers to drive both."""

    loop: qasync.QEventLoop
    server: LiveServer
    keyring: MemoryKeyring
    clients: list[ApiClient] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T] | asyncio.Future[T], timeout: float = 30) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def wait_until(self, predicate: Callable[[], object], timeout: float = 15, message: str = "") -> None:
        async def poll() -> None:
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.02)

        try:
            self.run(poll(), timeout)
        except TimeoutError:
            raise AssertionError(message or f"condition not met within {timeout} s") from None

    def wait(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds), seconds + 5)

    def on_server(self, coro: Coroutine[Any, Any, T]) -> T:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result(timeout=60)

    def api(self, token: str | None = None) -> ApiClient:
        client = ApiClient(self.server.base_url, token)
        self.clients.append(client)
        return client

    def create_user(self, email: str, role: str = "Salesperson", **fields: Any) -> int:
        return self.on_server(self.server.create_user(email, role=role, **fields))

    def signed_in_api(self, email: str = ADMIN_EMAIL, role: str = "Admin", password: str = PASSWORD) -> ApiClient:
        """An ApiClient signed in as a new user of ``role`` (an admin by default)."""
        self.create_user(email, role=role, full_name=email.split("@")[0].title())
        client = self.api()
        self.run(auth.login(client, email, password))
        return client

    def enroll_totp(self, email: str, password: str = PASSWORD) -> str:
        """Turn on two-factor sign-in for ``email`` through the API; returns the TOTP secret.

        The confirming code is the previous time step's, so the current code is still fresh for
        a sign-in right after (the server accepts each step once, one step of drift either way)."""

        async def enroll() -> str:
            async with self.server.client() as http:
                await self.server.login(http, email, password)
                setup = (await http.post("/api/auth/totp/begin")).json()
                code = pyotp.TOTP(setup["secret"]).at(time.time() - 30)
                response = await http.post("/api/auth/totp/confirm", json={"code": code})
                assert response.status_code == 200, response.text
                return str(setup["secret"])

        return self.on_server(enroll())

    def admin_http(self, coro_factory: Callable[[httpx.AsyncClient], Coroutine[Any, Any, T]]) -> T:
        """Run ``coro_factory(http)`` with an httpx client signed in as a fresh admin, off the Qt loop."""

        async def work() -> T:
            async with self.server.client() as http:
                email = f"boss{next(_admins)}@example.com"
                await self.server.create_user(email, role="Admin", full_name="Boss")
                await self.server.login(http, email)
                return await coro_factory(http)

        return self.on_server(work())


_admins = itertools.count(1)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A fresh qasync loop per test; stray tasks are cancelled before it closes."""
    loop = open_qloop(qapp)
    yield loop
    close_qloop(loop)


def open_qloop(qapp: QApplication) -> qasync.QEventLoop:
    """A qasync loop on ``qapp``, set as the current loop, whose run_until_complete stops with its
    future (the tests and tests/perf/bench_live.py drive the desktop on it)."""
    qapp.setQuitOnLastWindowClosed(False)  # closing a window must not stop the loop mid-test
    loop = qasync.QEventLoop(qapp, already_running=False)
    loop.run_until_complete = _stopping_at_the_end(loop)  # type: ignore[method-assign]
    asyncio.set_event_loop(loop)
    return loop


def close_qloop(loop: qasync.QEventLoop) -> None:
    """Cancel and finish the loop's stray tasks, then close it."""
    _cancel_pending(loop)
    asyncio.set_event_loop(None)
    loop.close()


def _stopping_at_the_end(loop: qasync.QEventLoop) -> Callable[[Any], Any]:
    """qasync's run_until_complete processes Qt events once more after it has cleared the running
    loop; a task stepped there (a view reloading on a live event) finds no running loop, anyio
    raises and httpx's connection pool stays locked, so later requests hang. This one stops with
    the loop instead. (The app itself runs one loop for its whole life and never meets this.)"""

    def run_until_complete(future: Any) -> Any:
        future = asyncio.ensure_future(future, loop=loop)
        future.add_done_callback(lambda _: loop.stop())
        loop.run_forever()
        return future.result()

    return run_until_complete


@pytest.fixture(autouse=True)
def isolated_desktop_state(tmp_path: Path) -> Iterator[MemoryKeyring]:
    """Per test: an in-memory keyring and QSettings under tmp_path (nothing leaks between tests)."""
    memory = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(memory)
    QCoreApplication.setOrganizationName("crm-tests")
    QCoreApplication.setApplicationName("crm-desktop-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    os.environ.pop("CRM_SERVER_URL", None)
    reset_change_bus()
    yield memory
    keyring.set_keyring(previous)
    reset_change_bus()


# Parts of a screen that are never windows of their own: one shown before it has a parent flashes
# up as a window and takes the focus from the one the person is typing in.
PARTS = (QLabel, QAbstractButton, QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QProgressBar)


class StrayWindows(QObject):
    """Notes every screen part that was shown as a top-level window."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, PARTS)
            and isinstance(watched, QWidget)
            and watched.windowType() == Qt.WindowType.Window
        ):
            text = watched.text() if isinstance(watched, (QLabel, QAbstractButton)) else ""
            self.seen.append(f"{type(watched).__name__} {watched.objectName() or text!r}")
        return False


@pytest.fixture(autouse=True)
def no_stray_windows(qapp: QApplication) -> Iterator[None]:
    """Fails a test during which a label, button or field was shown without a parent."""
    stray = StrayWindows()
    qapp.installEventFilter(stray)
    yield
    qapp.removeEventFilter(stray)
    assert not stray.seen, f"shown as windows of their own (give them a parent first): {stray.seen}"


@pytest.fixture
def desk(
    qloop: qasync.QEventLoop, server: LiveServer, isolated_desktop_state: MemoryKeyring, qtbot: object
) -> Iterator[Desk]:
    """Depends on qtbot so that its teardown (closing the test's widgets) runs after this one:
    the test's coroutines are cancelled while the widgets they touch still exist."""
    d = Desk(qloop, server, isolated_desktop_state)
    yield d
    _cancel_pending(qloop)
    for widget in QApplication.topLevelWidgets():
        widget.close()
    _cancel_pending(qloop)
    for client in d.clients:
        qloop.run_until_complete(client.close())


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Right after a desktop test's body: finish its coroutines on the loop. (pytest-qt then
    processes Qt events outside any running loop; a coroutine step run there would fail.)"""
    try:
        return (yield)
    finally:
        desk = getattr(item, "funcargs", {}).get("desk")
        if isinstance(desk, Desk) and not desk.loop.is_closed():
            _cancel_pending(desk.loop)


def _cancel_pending(loop: qasync.QEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        # Bounded: a task that ignores its cancellation must not hang the suite (the Qt loop sits idle
        # in C then, where pytest-timeout's signal never lands). Say which one it was instead.
        _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=CANCEL_TIMEOUT))
        for task in stuck:
            print(f"\nA task did not finish after being cancelled: {task!r}", file=sys.stderr)


__all__ = ["ADMIN_EMAIL", "PASSWORD", "Desk", "MemoryKeyring", "close_qloop", "open_qloop"]
