"""The interpreter must exit 0 after a Qt session (FINDINGS: PySide6 6.12 on Python 3.11 aborts with
"bool_dealloc" after signal disconnects), and the console script's own flags work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ADMIN_EMAIL, PASSWORD, LiveServer

ROOT = Path(__file__).resolve().parents[2]

QT_SESSION = """
import asyncio, os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
import qasync

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)

class Sender(QObject):
    fired = Signal(int)

sender = Sender()
def receiver(value): pass
for _ in range(10):
    sender.fired.connect(receiver)
    sender.fired.emit(1)
    sender.fired.disconnect(receiver)

from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.main_window import MainWindow
from crm_server.contract.auth import Me

me = Me(id=1, email="a@example.com", full_name="Ada Admin", phone=None, team_id=None, role_id=1,
        role_name="Admin", permissions={"leads": {"actions": ["view"], "scope": "all"},
                                        "admin": {"actions": ["view"], "scope": "all"}},
        must_change_password=False, totp_enabled=False, totp_required=False)
window = MainWindow(Session(ApiClient("http://127.0.0.1:9"), me))
window.show()
window.open_module("leads")
loop.run_until_complete(asyncio.sleep(0.2))
window.close()
print("qt session done")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_a_qt_session_exits_with_code_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-c", QT_SESSION], capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT
    )
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stderr[-3000:]}"
    assert "qt session done" in result.stdout


def test_version_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm_desktop.app", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0 and result.stdout.startswith("crm-desktop ")


def test_self_test_against_a_running_server(server: LiveServer) -> None:
    import asyncio

    asyncio.run(server.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin"))
    env = _env() | {"CRM_SELF_TEST_EMAIL": ADMIN_EMAIL, "CRM_SELF_TEST_PASSWORD": PASSWORD}
    result = subprocess.run(
        [sys.executable, "-m", "crm_desktop.app", "--self-test", "--server", server.base_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "main window ready" in result.stdout and "self-test ok" in result.stdout
