"""crm-desktop: the office app (QApplication + qasync loop).

crm-desktop                     sign in to the remembered server (see crm_desktop/config.py)
crm-desktop --server URL        use this server (remembered after a successful sign-in)
crm-desktop --demo              a local demo server on the embedded PostgreSQL, signed in as
                                admin@demo.local (password: crm_server.demo.DEMO_PASSWORD)
crm-desktop --self-test         start offscreen, open the main window, exit 0 (installer check)
crm-desktop --self-test --demo  the same through the demo's own start (its data folder, kept)
crm-desktop --version
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_desktop.local_server import LocalServer

STARTED = time.perf_counter()
log = logging.getLogger("crm_desktop")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="crm-desktop", description="The CRM desktop app.")
    parser.add_argument("--server", metavar="URL", help="server address, e.g. https://crm.example.com")
    parser.add_argument(
        "--demo", action="store_true", help="run a local demo server with sample data and sign in as the demo admin"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start offscreen, open the main window and exit (0 = works). Uses --server with "
        "CRM_SELF_TEST_EMAIL/CRM_SELF_TEST_PASSWORD, or a temporary demo server",
    )
    parser.add_argument("--theme", choices=("light", "dark"), help="override the system color scheme")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="log more")
    parser.add_argument("--local-server", metavar="ARGS", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("crm")
    except PackageNotFoundError:
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.local_server is not None:  # the child process of --demo in a frozen build
        from crm_desktop import local_server

        return local_server.main(args.local_server)
    if args.version:
        print(f"crm-desktop {version()}")
        return 0
    demo_server = None
    if args.demo:  # launched first: the server's start (the longer one) overlaps Qt's
        from crm_desktop.local_server import LocalServer, demo_data_dir

        demo_server = LocalServer(demo_data_dir())
        demo_server.launch()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("QT_API", "pyside6")
    if args.self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    # isort: off
    from PySide6.QtWidgets import QApplication  # before qasync, which picks the first binding it finds
    import qasync
    # isort: on

    from crm_desktop import config, icons, theme

    app = QApplication(sys.argv[:1])
    app.setOrganizationName(config.ORGANIZATION)
    app.setApplicationName(config.APPLICATION)
    app.setApplicationDisplayName("CRM")
    app.setApplicationVersion(version())
    app.setDesktopFileName("crm-desktop")
    app.setQuitOnLastWindowClosed(False)
    theme.install(app, args.theme)
    app.setWindowIcon(icons.app_icon())
    from crm_desktop.gc_guard import MainThreadGarbageCollector

    collector = MainThreadGarbageCollector(parent=app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        if args.self_test:
            from crm_desktop.self_test import run_self_test

            return loop.run_until_complete(run_self_test(args.server, STARTED, demo_server))
        return loop.run_until_complete(_run(args, demo_server))
    finally:
        collector.stop()
        loop.close()


async def _run(args: argparse.Namespace, demo_server: LocalServer | None) -> int:
    from crm_desktop import config
    from crm_desktop.controller import DesktopApp

    desktop = DesktopApp(config.resolve_server_url(args.server))
    _quit_on_signals(desktop.finished.set)
    try:
        if demo_server is not None:
            if not await desktop.start_demo(demo_server):
                return 1
        else:
            await desktop.start()
        await desktop.run()
    finally:
        await desktop.shutdown()
    return 0


def _quit_on_signals(quit_now: Callable[[], None]) -> None:
    """Ctrl+C in a terminal and SIGTERM close the app cleanly (and with it a demo server).

    Qt's event loop runs in C++, so a small timer lets Python look at pending signals."""
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    loop = asyncio.get_event_loop()

    def handler(_signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(quit_now)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)
    ticker = QTimer(QApplication.instance())
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


if __name__ == "__main__":
    sys.exit(main())
