"""In a real X window: the global search results and the notifications popup paint their own background,
and the new-lead and payment dialogs show no stock icons (OK tick, Cancel cross, calendar arrows).

Offscreen renders (``widget.grab()``) draw a popup's style sheet whatever the window system does with it;
only the screen shows what a person sees. So a child process runs the desktop under Xvfb with
``QT_QPA_PLATFORM=xcb``, opens each popup over the leads board, takes the screen (``QScreen.grabWindow``)
and measures the popup's area: most of it must be the theme's surface colour (text covers the rest), in
both themes. A popup drawn on a see-through or unfilled window shows black, or the board, there instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer

ROOT = Path(__file__).resolve().parents[2]
MIN_SHARE = 0.6  # of the inner area in the surface colour; text and row lines take the rest
THEMES = ("light", "dark")


@pytest.fixture
def display() -> Iterator[str]:
    """An Xvfb of its own on a free display number (Xvfb picks it: -displayfd)."""
    xvfb = shutil.which("Xvfb")
    assert xvfb is not None, "Xvfb is not installed (tests/run installs it: apt-get install xvfb)"
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _seed(server: LiveServer) -> None:
    """An admin with something to find (a client and a lead) and two unread notifications."""

    async def seed() -> None:
        from crm_server.admin import service

        user_id = await server.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            await server.login(http, ADMIN_EMAIL)
            response = await http.post("/api/clients", json={"name": "Acme Widgets SRL"})
            assert response.status_code in (200, 201), response.text
            response = await http.post("/api/leads", json={"person_name": "Ana Acme", "company": "Acme Logistics"})
            assert response.status_code in (200, 201), response.text
        async with server.session() as s:
            service.notify(s, user_id, "test", "Invoice #12 was paid", "Acme Widgets SRL paid in full")
            service.notify(s, user_id, "test", "New lead from the website", "Ana Acme at Acme Logistics")

    asyncio.run(seed())


def test_popups_paint_their_background_and_dialogs_show_the_app_icons_on_screen(
    server: LiveServer, display: str, tmp_path: Path
) -> None:
    _seed(server)
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", QT_API="pyside6", DISPLAY=display)
    env.pop("WAYLAND_DISPLAY", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-m", "tests.desktop.test_popups_paint", server.base_url, str(tmp_path), *THEMES],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    found = [f for f in lines if "popup" in f]
    assert {(f["theme"], f["popup"]) for f in found} == {(t, p) for t in THEMES for p in ("search", "notifications")}
    bad = [f for f in found if f["share"] < MIN_SHARE]
    assert [bool(f["layout_check"]) for f in found] == [f["share"] < MIN_SHARE for f in found]
    assert not bad, "popups not painted in their theme's background colour (screens in {}):\n{}".format(
        tmp_path,
        "\n".join(
            f"  {f['theme']} {f['popup']}: {f['share']:.0%} of its area is {f['expected']}; mostly {f['mostly']}"
            for f in bad
        ),
    )
    dialogs = [f for f in lines if "dialog" in f]
    assert {(f["theme"], f["dialog"]) for f in dialogs} == {(t, d) for t in THEMES for d in ("new lead", "payment")}
    stock = [f for f in dialogs if f["stock"]]
    assert not stock, "buttons with stock icons, not the app's own: " + "; ".join(
        f"{f['theme']} {f['dialog']}: {', '.join(f['stock'])}" for f in stock
    )


# --- the child: runs in its own process under Xvfb ------------------------------------------------------------


def _child(url: str, out: Path, themes: list[str]) -> int:
    os.environ.setdefault("QT_API", "pyside6")
    import PySide6.QtWidgets  # noqa: F401  (before qasync: it picks the first Qt binding it finds)
    import qasync
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("crm-popup-paint")
    settings = tempfile.mkdtemp(prefix="crm-popups-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings)
    app = QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        for name in themes:
            loop.run_until_complete(_shoot(app, url, out, name))
    finally:
        shutil.rmtree(settings, ignore_errors=True)
    return 0


async def _settle(extra: float = 0.5) -> None:
    from crm_desktop import operations, tasks

    for _ in range(200):
        await asyncio.sleep(0.05)
        if tasks.running() == 0 and operations.pending() == 0:
            break
    await asyncio.sleep(extra)


async def _until(predicate: Any, what: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


async def _shoot(app: Any, url: str, out: Path, theme_name: str) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from crm_desktop import theme
    from crm_desktop.api import auth
    from crm_desktop.api.client import ApiClient
    from crm_desktop.session import Session
    from crm_desktop.views.main_window import MainWindow

    theme.install(app, theme_name)
    api = ApiClient(url)
    await auth.login(api, ADMIN_EMAIL, PASSWORD)
    window = MainWindow(Session(api, await auth.me(api)))
    window.resize(1280, 800)
    window.move(0, 0)
    window.show()
    window.open_module("leads")
    await _settle()

    window.activateWindow()
    window.search.setFocus()
    await _until(window.search.hasFocus, "the search box did not take the keyboard focus")
    QTest.keyClicks(window.search, "acme")
    search = window.search_controller.popup
    await _until(lambda: search.isVisible() and search.list.count() > 1, "the search results did not open")
    await _settle()
    _measure(app, out, theme_name, "search", search)
    search.hide()
    QTest.mouseClick(window.bell, Qt.MouseButton.LeftButton)
    await _until(lambda: window.popup is not None and window.popup.list.count() == 2, "the notifications did not open")
    await _settle()
    assert window.popup is not None
    _measure(app, out, theme_name, "notifications", window.popup)
    window.popup.hide()
    await _dialog_icons(app, window, out, theme_name)
    window.close()
    window.deleteLater()
    await api.close()
    del QPoint


async def _dialog_icons(app: Any, window: Any, out: Path, theme_name: str) -> None:
    """Print the buttons of the new-lead and payment dialogs (and the payment date's calendar) that show
    a picture not from the app's icon set (one JSON line per dialog)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QAbstractButton, QDialog, QPushButton

    from crm_desktop.icons import ICON_DIR
    from crm_desktop.views.invoices.dialogs import PaymentDialog
    from crm_server.contract.invoices import InvoiceOut, InvoiceStatus

    own = {path.stem for path in ICON_DIR.glob("*.svg")}

    def stock(widget: Any) -> list[str]:
        found = []
        for button in widget.findChildren(QAbstractButton):
            icon = button.icon()
            if not icon.isNull() and icon.name() not in own:
                found.append(button.text() or button.objectName() or type(button).__name__)
        return found

    new_button = next(b for b in window.findChildren(QPushButton) if b.text() == "New lead" and b.isVisible())
    QTest.mouseClick(new_button, Qt.MouseButton.LeftButton)
    await _until(
        lambda: any(w.objectName() == "newLeadDialog" for w in app.topLevelWidgets() if w.isVisible()), "no dialog"
    )
    await _settle(0.2)
    new_lead = next(w for w in app.topLevelWidgets() if w.objectName() == "newLeadDialog" and w.isVisible())
    new_lead.grab().save(str(out / f"{theme_name}-new-lead.png"))
    print(json.dumps({"theme": theme_name, "dialog": "new lead", "stock": stock(new_lead)}), flush=True)
    new_lead.close()
    invoice = InvoiceOut.model_construct(
        id=1,
        number="INV-2026-0001",
        status=InvoiceStatus.unpaid,
        currency="EUR",
        gross_total=Decimal("120.00"),
        paid_total=Decimal("0.00"),
    )
    payment: QDialog = PaymentDialog(window.api, invoice, window)
    payment.show()
    await _settle(0.2)
    payment.grab().save(str(out / f"{theme_name}-payment.png"))
    calendar = payment.paid_on.calendarWidget()  # type: ignore[attr-defined]
    print(
        json.dumps({"theme": theme_name, "dialog": "payment", "stock": sorted(set(stock(payment) + stock(calendar)))}),
        flush=True,
    )
    payment.close()


def _measure(app: Any, out: Path, theme_name: str, popup_name: str, popup: Any) -> None:
    """Print how much of the popup's inner area on screen is its theme's surface colour (one JSON line)."""
    from PySide6.QtGui import QColor

    from crm_desktop import theme
    from crm_desktop.widgets.popup_frame import background_share

    app.processEvents()
    image = app.primaryScreen().grabWindow(0).toImage()
    image.save(str(out / f"{theme_name}-{popup_name}-screen.png"))
    expected = QColor(theme.TOKENS[theme_name]["surface"])
    share, mostly = background_share(image, popup, expected)
    from crm_desktop.layout_check import check_window

    problems = [p.detail for p in check_window(popup.parentWidget().window(), [popup]) if p.check == "popup_background"]
    report = {
        "theme": theme_name,
        "popup": popup_name,
        "share": share,
        "expected": expected.name(),
        "mostly": mostly,
        "layout_check": problems,  # the screenshots' --check says the same
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], Path(sys.argv[2]), sys.argv[3:]))
