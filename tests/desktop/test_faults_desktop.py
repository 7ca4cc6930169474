"""What a person at the desktop sees when the back end fails, on a PostgreSQL cluster of this
module's own (the suite's shared one must not be stopped under other tests):

- PostgreSQL stopped: the next thing the person does shows "Reconnecting"; once the database is
  back the desktop recovers by itself and the action completes.
- The desktop's server process paused (SIGSTOP) for 30 s while another process keeps serving: the
  desktop goes offline, comes back once the process resumes, and receives every change made on the
  other process meanwhile (events resumed by sequence)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.api.client import ApiClient
from crm_desktop.session import Session
from crm_desktop.views.main_window import MainWindow
from crm_server import migrate
from crm_server.contract.events import LiveEvent
from crm_server.embedded_db import EmbeddedPostgres
from tests.desktop.conftest import Desk
from tests.support import ADMIN_EMAIL, PASSWORD, free_port, server_process

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals")

PAUSE_SECONDS = 30


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[EmbeddedPostgres, str]]:
    root = Path(tempfile.mkdtemp(prefix="crm-desk-faults-"))
    cluster = EmbeddedPostgres(root)
    url = cluster.start("crm_faults")
    try:
        migrate.upgrade(url)
        yield cluster, url
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(own_cluster: tuple[EmbeddedPostgres, str]) -> str:
    """The desk's server (and this module's processes) on the module's own cluster."""
    return own_cluster[1]


def _signed_in_window(desk: Desk, qtbot: QtBot, api: ApiClient, email: str = ADMIN_EMAIL) -> MainWindow:
    desk.run(auth.login(api, email, PASSWORD))
    window = MainWindow(Session(api, desk.run(auth.me(api))))
    qtbot.addWidget(window)
    window.session.start()
    window.show()
    desk.wait_until(lambda: window.session.events.state == "connected", message="the event stream did not connect")
    return window


def test_postgres_stopped_shows_reconnecting_and_the_desktop_recovers(
    desk: Desk, qtbot: QtBot, own_cluster: tuple[EmbeddedPostgres, str]
) -> None:
    cluster, _url = own_cluster
    desk.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
    window = _signed_in_window(desk, qtbot, desk.api())
    assert "Connected" in window.connection_label.text()
    cluster._run("pg_ctl", "-D", str(cluster.pgdata), "-w", "-m", "fast", "stop")
    try:
        # The person looks at the leads again (F5): the server answers 503, the desktop retries.
        listing = asyncio.ensure_future(window.api.get("/api/leads"))
        desk.wait_until(lambda: "Reconnecting" in window.connection_label.text(), message="no Reconnecting shown")
        assert window.offline_banner.isVisible() and not listing.done()
    finally:
        cluster.ensure_running()
    desk.wait_until(lambda: listing.done(), timeout=40, message="the desktop did not recover")
    assert listing.result()["total"] == 0
    desk.wait_until(lambda: "Connected" in window.connection_label.text() and not window.offline_banner.isVisible())


def test_a_paused_server_process_loses_nothing_done_on_another(
    desk: Desk, qtbot: QtBot, own_cluster: tuple[EmbeddedPostgres, str]
) -> None:
    _cluster, url = own_cluster
    desk.create_user("paula@example.com", role="Admin", full_name="Paula Pause")
    port_a, port_b = free_port(), free_port()
    with server_process(url, port_a, worker=False) as process_a, server_process(url, port_b, worker=False):
        api = ApiClient(f"http://127.0.0.1:{port_a}")
        desk.clients.append(api)
        window = _signed_in_window(desk, qtbot, api, "paula@example.com")
        heard: list[LiveEvent] = []
        window.session.events.event.connect(heard.append)
        os.kill(process_a.pid, signal.SIGSTOP)
        paused_at = time.monotonic()
        try:
            made = desk.on_server(_create_leads(f"http://127.0.0.1:{port_b}", 3))  # on the other process
            desk.wait_until(
                lambda: window.offline_banner.isVisible(), timeout=PAUSE_SECONDS, message="the desktop stayed online"
            )
            desk.wait(max(0.0, PAUSE_SECONDS - (time.monotonic() - paused_at)))  # the rest of the pause
        finally:
            os.kill(process_a.pid, signal.SIGCONT)
        window.offline_banner.retry_button.click()  # "Try now", as a person would
        desk.wait_until(lambda: not window.offline_banner.isVisible(), timeout=40, message="it did not come back")
        desk.wait_until(
            lambda: {e.entity_id for e in heard if e.module == "leads" and e.action == "created"} >= set(made),
            timeout=20,
            message=f"changes made on the other process were lost: {made} vs {[e.entity_id for e in heard]}",
        )
        seqs = [e.seq for e in heard]
        assert seqs == sorted(set(seqs))  # in order, none twice


async def _create_leads(base: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        login = await http.post("/api/auth/login", json={"email": "paula@example.com", "password": PASSWORD})
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        made = []
        for n in range(count):
            created = await http.post("/api/leads", json={"person_name": f"Made on B {n}"})
            assert created.status_code == 201, created.text
            made.append(int(created.json()["id"]))
        return made
