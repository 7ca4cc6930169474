"""``crm-desktop --self-test``: prove the installed app starts (offscreen) and exit 0.

With ``--demo``: the demo's own start (``crm-desktop --demo``: its data folder, kept for the next
start), and the time each step took (``phase <name>: <ms> ms``, read by tests/perf/bench_desktop_start.py).
With ``--server URL``: checks /health, and if ``CRM_SELF_TEST_EMAIL`` and ``CRM_SELF_TEST_PASSWORD``
are set, signs in and opens the main window. Without ``--server``: a temporary embedded
database with the demo data, removed afterwards, signed in as the demo admin.
Prints one line per step and ``self-test ok`` at the end; any failure exits 1 with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from crm_desktop.api.client import ApiClient, ApiError
from crm_desktop.local_server import LocalServer


def _say(text: str) -> None:
    print(text, flush=True)


async def run_self_test(server_url: str | None, started: float, demo: LocalServer | None = None) -> int:
    from crm_desktop.controller import DesktopApp
    from crm_desktop.views.main_window import MainWindow

    if demo is not None:  # --demo: its server, launched before Qt
        return await _demo_self_test(demo, started)
    local = None
    temp_dir: Path | None = None
    email = os.environ.get("CRM_SELF_TEST_EMAIL")
    password = os.environ.get("CRM_SELF_TEST_PASSWORD")
    try:
        if server_url is None:
            from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD

            temp_dir = Path(tempfile.mkdtemp(prefix="crm-self-test-"))
            local = LocalServer(temp_dir)
            server_url = await asyncio.to_thread(local.start)
            email, password = DEMO_ADMIN_EMAIL, DEMO_PASSWORD
            _say(f"local server on the embedded database: {server_url}")
        probe = ApiClient(server_url)
        try:
            health = await probe.request("GET", "/health", retry=False)
        except ApiError as error:
            if error.status != 503:  # 503 = degraded: reachable, something needs attention
                raise
            health = error.extra
        finally:
            await probe.close()
        _say(f"server health: {health.get('status') if isinstance(health, dict) else health}")
        desktop = DesktopApp(server_url)
        if not (email and password):
            window = desktop.show_login()
            _say(f"login window: {window.windowTitle()} (set CRM_SELF_TEST_EMAIL/PASSWORD to open the main window)")
            window.close()
            _say("self-test ok")
            return 0
        await desktop.start(email, password)
        main = desktop.main
        if not isinstance(main, MainWindow):
            raise RuntimeError("signing in did not open the main window")
        main.repaint()
        ready_ms = (time.perf_counter() - started) * 1000
        modules = ", ".join(main.sidebar.keys())
        _say(f"main window ready in {ready_ms:.0f} ms; modules: {modules}")
        bench_t0 = os.environ.get("CRM_BENCH_T0")
        if bench_t0:
            _say(f"cold start ms: {(time.time() - float(bench_t0)) * 1000:.0f}")
        await desktop.shutdown()
        _say("self-test ok")
        return 0
    except (ApiError, OSError, RuntimeError) as exc:
        _say(f"self-test failed: {getattr(exc, 'message', None) or exc}")
        return 1
    finally:
        if local is not None:
            await asyncio.to_thread(local.stop)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


async def _demo_self_test(demo: LocalServer, started: float) -> int:
    """Start as ``crm-desktop --demo`` does, then say where the time went, launch to main window."""
    from crm_desktop.controller import DesktopApp
    from crm_desktop.local_server import IN_PARALLEL
    from crm_desktop.views.main_window import MainWindow

    bench_t0 = os.environ.get("CRM_BENCH_T0")
    launched = float(bench_t0) if bench_t0 else time.time() - (time.perf_counter() - started)
    qt_ready = time.time()  # the desktop's imports and QApplication done (the server started meanwhile)
    desktop = DesktopApp("")
    watching = asyncio.ensure_future(_close_a_failed_splash())
    try:
        if not await desktop.start_demo(demo):
            _say(f"self-test failed: the demo did not start: {watching.result() if watching.done() else ''}")
            return 1
        main, local = desktop.main, desktop.local
        if not isinstance(main, MainWindow) or local is None:
            raise RuntimeError("signing in to the demo did not open the main window")
        main.repaint()
        shown = time.time()
        steps = {
            "desktop until the server is launched": (local.launched_at - launched) * 1000,
            f"desktop imports and Qt ({IN_PARALLEL})": (qt_ready - launched) * 1000,
        }
        waited = (local.ready_at - local.launched_at) * 1000
        serial = sum(ms for name, ms in local.phases.items() if IN_PARALLEL not in name)
        steps["server process start (Python, before its first step)"] = waited - serial
        steps.update(local.phases)
        steps["sign-in and first screen"] = (shown - local.ready_at) * 1000
        for name, ms in steps.items():
            _say(f"phase {name}: {ms:.0f} ms")
        _say(f"demo main window shown in {(shown - launched) * 1000:.0f} ms")
    except (ApiError, OSError, RuntimeError) as exc:
        _say(f"self-test failed: {getattr(exc, 'message', None) or exc}")
        return 1
    finally:
        watching.cancel()
        await desktop.shutdown()
    _say("self-test ok")
    return 0


async def _close_a_failed_splash() -> str:
    """A demo that cannot start waits on its splash for a person to read the reason and close it;
    here nobody will: close it, and give the reason."""
    from PySide6.QtWidgets import QApplication

    from crm_desktop.views.splash import Splash

    while True:
        await asyncio.sleep(0.2)
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, Splash) and widget.close_button.isVisible():
                reason = widget.text.text()
                widget.close()
                return reason
