"""``python -m crm_desktop.screenshots OUT_DIR [--theme light|dark|both] [--size WxH ...] [--check]``:
every main screen to PNG.

Runs offscreen against a temporary embedded database filled with the demo data (crm_server/demo.py),
signed in as the demo admin. Popups and dialogs are drawn onto their window's picture.

``--size`` (repeatable or a comma list, default 1280x800) is the screen: the main window fills its
available geometry, record windows and dialogs open at their own size (fitted to it by the app).
With several sizes each goes to its own folder, ``OUT_DIR/<W>x<H>/``.
Offscreen, the screen is configured to that size; under xcb each size runs in a child process on a
private Xvfb of that size (``--on-this-screen`` uses the display as it is). One server serves every
size. ``--check`` also runs crm_desktop.layout_check on each picture and prints its findings as JSON
lines (``{"check", "where", "detail", "shot", "theme", "size"}``; the exit status is 1 when there
are any), a hook that fails included (check ``screen_failed``).

Hook for other views: a module under ``crm_desktop.views`` may define

    def screenshot_states(ctx: ScreenshotContext) -> Iterator[tuple[str, QWidget]]:
        page = MyPage(ctx.api, ctx.me)         # or ctx.main.open_module("admin") and find it
        yield "my-page", page                  # grabbed once loading has settled
        page.select_tab(2)
        yield "my-page-tab-2", page

``CRM_SCREENSHOTS_ONLY=imports,admin.panel`` runs only the hooks of the modules whose names hold one
of those parts (the login and main window pictures are always taken); the import wizard's hook is
crm_desktop/views/imports/wizard.py (its steps on a small leads file, over the main window).

After each ``yield`` the runner waits until background loads and operations are done (and a short
settle time), then saves ``OUT_DIR/<theme>-<name>.png`` of the widget's window. Widgets without a
parent are shown at ``ctx.size`` first. ``ctx.run(coro)`` schedules a coroutine (it runs while the
runner settles).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

# isort: off
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QWidget
import qasync
# isort: on

log = logging.getLogger("crm_desktop.screenshots")


@dataclass
class ScreenshotContext:
    api: Any  # ApiClient
    session: Any  # Session
    me: Any  # Me
    main: Any  # MainWindow
    server_url: str
    size: QSize = field(default_factory=lambda: QSize(1280, 800))  # the screen's available size
    _pending: list[asyncio.Task[Any]] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._pending.append(task)
        return task


class Shooter:
    def __init__(self, out: Path, theme_name: str, size: QSize | None = None, check: bool = False) -> None:
        self.out = out
        self.theme_name = theme_name
        self.saved: list[Path] = []
        self.size = size or QSize(1280, 800)
        self.check = check
        self.findings: list[Any] = []  # layout_check.Finding, when checking
        self._reported: set[tuple[str, str, str]] = set()
        self._shown: Any = None
        if check:
            from crm_desktop.layout_check import ShownAtOwnSize

            app = QApplication.instance()
            self._shown = ShownAtOwnSize(app)
            assert app is not None
            app.installEventFilter(self._shown)

    def stop(self) -> None:
        if self._shown is not None:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self._shown)
            self._shown = None

    @property
    def size_name(self) -> str:
        return f"{self.size.width()}x{self.size.height()}"

    def report(self, shot: str, problems: list[Any]) -> None:
        """Print each problem not reported before in this theme as one JSON line."""
        from crm_desktop.layout_check import Finding

        for problem in problems:
            key = (problem.check, problem.where, problem.detail)
            if key in self._reported:
                continue
            self._reported.add(key)
            finding = Finding(problem.check, problem.where, problem.detail, shot, self.theme_name, self.size_name)
            self.findings.append(finding)
            print(finding.to_json(), flush=True)

    def failed(self, shot: str, what: str) -> None:
        from crm_desktop.layout_check import Problem

        if self.check:
            self.report(shot, [Problem("screen_failed", shot, what)])

    async def settle(self, extra: float = 0.35) -> None:
        from crm_desktop import operations, tasks

        for _ in range(200):
            await asyncio.sleep(0.05)
            if tasks.running() == 0 and operations.pending() == 0:
                break
        await asyncio.sleep(extra / 2 if self.check else extra)  # a check needs layouts, not animations

    def shoot(self, name: str, widget: QWidget, overlays: list[QWidget] | None = None) -> Path:
        window = widget.window()
        picture = window.grab()
        if overlays is None:
            overlays = [
                w
                for w in QApplication.topLevelWidgets()
                if w.isVisible() and w is not window and _belongs_to(w, window)
            ]
        if overlays:
            canvas = QPixmap(picture.size())
            canvas.setDevicePixelRatio(picture.devicePixelRatio())
            painter = QPainter(canvas)
            painter.drawPixmap(0, 0, picture)
            for overlay in overlays:
                offset = overlay.mapToGlobal(QPoint(0, 0)) - window.mapToGlobal(QPoint(0, 0))
                if overlay.isWindow() and overlay.parentWidget() is not None and _is_dialog(overlay):
                    painter.fillRect(canvas.rect(), _scrim())
                    offset = QPoint((window.width() - overlay.width()) // 2, (window.height() - overlay.height()) // 3)
                    _frame(painter, offset, overlay.size())
                painter.drawPixmap(offset, overlay.grab())
            painter.end()
            picture = canvas
        if self.check:
            from crm_desktop.layout_check import check_window

            self.report(name, self._shown.take() + check_window(window, overlays))
        path = self.out / f"{self.theme_name}-{name}.png"
        picture.save(str(path))
        self.saved.append(path)
        if not self.check:
            print(path, flush=True)
        return path


def _frame(painter: QPainter, at: QPoint, size: QSize) -> None:
    """A soft shadow and hairline around a dialog (offscreen windows have no decorations)."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QPen

    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for spread, alpha in ((10, 10), (6, 18), (3, 28)):
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, alpha))
        painter.drawRoundedRect(
            QRectF(at.x() - spread, at.y() - spread + 3, size.width() + 2 * spread, size.height() + 2 * spread),
            10 + spread,
            10 + spread,
        )
    painter.setPen(QPen(QColor(0, 0, 0, 40), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRectF(at.x() - 0.5, at.y() - 0.5, size.width() + 1, size.height() + 1))


def _scrim() -> Any:
    from PySide6.QtGui import QColor

    return QColor(15, 20, 30, 70)


def _is_dialog(widget: QWidget) -> bool:
    from PySide6.QtWidgets import QDialog

    return isinstance(widget, QDialog)


def _belongs_to(widget: QWidget, window: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if parent is window:
            return True
        parent = parent.parentWidget()
    return False


def _hook_modules(shots: Shooter | None = None) -> Iterator[Any]:
    import crm_desktop.views as views

    # CRM_SCREENSHOTS_ONLY=imports,admin.panel: only the hooks of modules whose name has one of these.
    only = [part for part in os.environ.get("CRM_SCREENSHOTS_ONLY", "").split(",") if part]
    for info in pkgutil.walk_packages(views.__path__, "crm_desktop.views."):
        if info.name.endswith(("screenshots", "__main__")):
            continue
        if only and not any(part in info.name for part in only):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            log.exception("skipping %s", info.name)
            if shots is not None:
                shots.failed(info.name, f"{info.name} does not import: {exc!r}")
            continue
        if callable(getattr(module, "screenshot_states", None)):
            yield module


async def shoot_all(
    out: Path, theme_name: str, server_url: str, size: QSize | None = None, check: bool = False
) -> Shooter:
    from crm_desktop import theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme.install(app, theme_name)
    shots = Shooter(out, theme_name, size, check)
    try:
        await _shoot_all(shots, server_url)
    finally:
        shots.stop()
    return shots


def _fill_screen(window: QWidget) -> None:
    """The main window as a person keeps it: maximised, filling the screen's available geometry."""
    from crm_desktop.layout_check import available

    frame, inner = window.frameGeometry(), window.geometry()  # a window manager's frame stays on screen too
    window.setGeometry(
        available(window).adjusted(
            inner.left() - frame.left(),
            inner.top() - frame.top(),
            inner.right() - frame.right(),
            inner.bottom() - frame.bottom(),
        )
    )


async def _shoot_all(shots: Shooter, server_url: str) -> None:
    from crm_desktop.api import auth
    from crm_desktop.api.client import ApiClient, ApiError
    from crm_desktop.controller import DesktopApp
    from crm_desktop.views.login.window import LoginWindow
    from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD

    # --- login steps -------------------------------------------------------------------------------
    login = LoginWindow(server_url, DEMO_ADMIN_EMAIL)
    login.show()
    await shots.settle()
    shots.shoot("login", login)
    from crm_server import demo

    demo_login = LoginWindow(server_url, "", "", demo.accounts(), DEMO_PASSWORD)  # the demo's: its roles
    demo_login.show()
    await shots.settle()
    shots.shoot("login-demo", demo_login)
    demo_login.close()
    demo_login.deleteLater()
    login.sign_in.password.setText("not the password")
    login.sign_in.submitted.emit()
    await shots.settle()
    shots.shoot("login-wrong-password", login)
    probe = ApiClient(server_url)
    try:
        await auth.login(probe, "nobody@demo.local", "x")
    except ApiError:
        pass
    await probe.close()
    login.show_page(login.otp)
    shots.shoot("login-2fa-code", login)
    login.show_page(login.forgot)
    shots.shoot("login-forgot-password", login)
    login.show_page(login.reset)
    login.reset.info.say("If admin@demo.local has an account, a reset code is on its way. It is valid for 30 minutes.")
    shots.shoot("login-reset-password", login)
    api = ApiClient(server_url)
    await auth.login(api, DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
    login.api = api
    from crm_desktop.views.login.pages import MustChangePage, TotpSetupPage

    must = MustChangePage(api, DEMO_PASSWORD)
    login.stack.addWidget(must)
    login.show_page(must)
    shots.shoot("login-must-change-password", login)
    setup = TotpSetupPage(api)
    login.stack.addWidget(setup)
    login.show_page(setup)
    setup.form.begin()
    await shots.settle()
    shots.shoot("login-2fa-setup", login)
    login.api = None
    login.close()
    login.deleteLater()

    # --- main window -------------------------------------------------------------------------------
    desktop = DesktopApp(server_url)
    await desktop.start(DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
    main = desktop.main
    assert main is not None and desktop.session is not None
    _fill_screen(main)
    await shots.settle(0.8)
    shots.shoot("main", main)
    main.open_module("invoices")  # a module whose screen is not built yet
    await shots.settle()
    shots.shoot("module-empty-state", main)
    main.open_module("leads")
    main.show_notifications()
    await shots.settle()
    shots.shoot("notifications", main)
    assert main.popup is not None
    main.popup.hide()
    main.user_menu.popup(main.user_button.mapToGlobal(QPoint(0, main.user_button.height() + 4)))
    await shots.settle(0.2)
    main.user_menu.move(
        main.user_button.mapToGlobal(
            QPoint(main.user_button.width() - main.user_menu.width(), main.user_button.height() + 4)
        )
    )
    shots.shoot("user-menu", main, [main.user_menu])
    main.user_menu.hide()
    for name, opener in (
        ("profile", main.show_profile),
        ("change-password", main.show_change_password),
        ("2fa-setup", main.show_totp_setup),
    ):
        dialog = opener()
        await shots.settle()
        shots.shoot(name, main, [dialog])
        dialog.close()
    dialog = main.show_change_password()
    dialog.form.current.setText("wrong")
    dialog.form.new.setText("short")
    dialog.form.repeat.setText("short")
    dialog.form.submit()
    await shots.settle()
    shots.shoot("change-password-error", main, [dialog])
    dialog.close()
    main.api._set_state("reconnecting")
    await shots.settle(0.1)
    shots.shoot("offline", main)
    main.api._set_state("online")
    main.restoring_banner.show()  # the server restoring a backup (crm_desktop/views/restoring.py)
    await shots.settle(0.1)
    shots.shoot("server-restoring", main)
    main.restoring_banner.hide()

    # --- views that offer screenshot_states (the admin panel...) ----------------------------------------
    session = desktop.session
    ctx = ScreenshotContext(
        api=session.api, session=session, me=session.me, main=main, server_url=server_url, size=main.size()
    )
    # Every widget a hook shows lives until the end of the run: a hook's top-level page freed by
    # Python as its generator ends, while its reads were still in flight, crashed the process.
    shown: list[QWidget] = []
    for module in _hook_modules(shots):
        name = module.__name__
        try:
            for name, widget in module.screenshot_states(ctx):
                shown.append(widget)
                if widget.parentWidget() is None and not widget.isVisible():
                    widget.resize(ctx.size)
                    widget.show()
                await shots.settle()
                shots.shoot(name, widget)
        except Exception as exc:
            log.exception("screenshot_states of %s failed", module.__name__)
            shots.failed(name, f"screenshot_states of {module.__name__} failed after {name}: {exc!r}")
            for left in QApplication.topLevelWidgets():  # what the hook left open would cover the next shots
                if left is not main and left.isVisible():
                    left.close()
        for left in QApplication.topLevelWidgets():  # a hook's pages must not cover the next hook's
            if left is not main and left.isVisible():
                left.close()
    await desktop.shutdown()


def _sizes(values: list[str] | None) -> list[QSize]:
    from crm_desktop.layout_check import parse_size

    sizes: list[QSize] = []
    for value in values or ["1280x800"]:
        for part in value.split(","):
            if part.strip() and (size := parse_size(part.strip())) not in sizes:
                sizes.append(size)
    return sizes


def _offscreen_platform(size: QSize, folder: Path) -> str:
    """The offscreen platform with one screen of `size` (Qt's offscreen configfile)."""
    config = folder / f"screen-{size.width()}x{size.height()}.json"
    screen = {"name": "shots", "x": 0, "y": 0, "width": size.width(), "height": size.height()}
    config.write_text(json.dumps({"screens": [{**screen, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={config}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_desktop.screenshots")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--theme", choices=("light", "dark", "both"), default="both")
    parser.add_argument("--server", help="use this server (with the demo data) instead of a temporary one")
    parser.add_argument(
        "--size", action="append", metavar="WxH", help="screen size, repeatable or a comma list (default 1280x800)"
    )
    parser.add_argument("--check", action="store_true", help="also print layout findings as JSON lines")
    parser.add_argument(
        "--on-this-screen", action="store_true", help="render on the display as it is (one --size, no private Xvfb)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        sizes = _sizes(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    platform = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    if args.on_this_screen or (len(sizes) == 1 and platform.startswith("offscreen")):
        return _run_here(args, sizes[0])

    from crm_desktop.layout_check import Xvfb

    temp_dir = None
    local = None
    status = 0
    settings_dir = Path(tempfile.mkdtemp(prefix="crm-shots-screens-"))
    try:
        server_url = args.server
        if not server_url:
            from crm_desktop.local_server import LocalServer

            temp_dir = Path(tempfile.mkdtemp(prefix="crm-shots-"))
            local = LocalServer(temp_dir, worker=False)
            server_url = local.start()
        for size in sizes:
            out = args.out_dir / f"{size.width()}x{size.height()}" if len(sizes) > 1 else args.out_dir
            command = [sys.executable, "-m", "crm_desktop.screenshots", str(out), "--on-this-screen"]
            command += ["--theme", args.theme, "--server", server_url, "--size", f"{size.width()}x{size.height()}"]
            command += ["--check"] if args.check else []
            xvfb = None
            env = dict(os.environ)
            if platform.startswith("offscreen"):
                env["QT_QPA_PLATFORM"] = _offscreen_platform(size, settings_dir)
            elif Xvfb.available():
                xvfb = Xvfb(size)
                xvfb.start()
                env = xvfb.env()
            else:
                log.warning("no Xvfb: %dx%d is rendered on the display as it is", size.width(), size.height())
            try:
                status = max(status, subprocess.run(command, env=env, check=False).returncode)
            finally:
                if xvfb is not None:
                    xvfb.stop()
    finally:
        if local is not None:
            local.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        shutil.rmtree(settings_dir, ignore_errors=True)
    return status


def _run_here(args: argparse.Namespace, size: QSize) -> int:
    from PySide6.QtCore import QCoreApplication, QSettings

    from crm_desktop.local_server import LocalServer

    settings_dir = Path(tempfile.mkdtemp(prefix="crm-shots-settings-"))
    if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
        os.environ["QT_QPA_PLATFORM"] = _offscreen_platform(size, settings_dir)
    QCoreApplication.setOrganizationName("crm-screenshots")
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    screen = app.primaryScreen().availableGeometry().size()
    if screen != size:
        log.warning(
            "the screen is %dx%d, not %dx%d: windows fit the screen they are on",
            screen.width(),
            screen.height(),
            size.width(),
            size.height(),
        )
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    from crm_desktop.gc_guard import MainThreadGarbageCollector

    # The in-process server runs on a thread: without this, Python's collector could free Qt objects
    # there (the screens check died of SIGSEGV in QTableWidget refills, 2 runs in 6), as in the app.
    collector = MainThreadGarbageCollector(parent=app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    temp_dir = None
    local = None
    findings = 0
    try:
        server_url = args.server
        if not server_url:
            temp_dir = Path(tempfile.mkdtemp(prefix="crm-shots-"))
            local = LocalServer(temp_dir, worker=False)
            server_url = local.start()
        themes = ("light", "dark") if args.theme == "both" else (args.theme,)
        for name in themes:
            shots = loop.run_until_complete(shoot_all(args.out_dir, name, server_url, screen, args.check))
            findings += len(shots.findings)
    finally:
        if local is not None:
            local.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        shutil.rmtree(settings_dir, ignore_errors=True)
        collector.stop()
        loop.close()
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
