"""Production shape: two real `crm-server serve` processes on one PostgreSQL, as behind nginx.

Both answer /health, and a change made through one is pushed live to a desktop whose WebSocket
is held by the other (PostgreSQL LISTEN/NOTIFY is the only link between them). That each job runs
once however many processes there are is tested in tests/server/test_jobs.py
(test_each_deferred_job_runs_once_with_two_workers, test_periodic_task_is_deferred_and_run_once_with_two_workers).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.support import free_port

PASSWORD = "a long admin passphrase"


def _crm_server() -> list[str]:
    # The console script IT runs; fall back to the module when the package is not installed as a script.
    script = Path(sys.executable).with_name("crm-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crm_server.cli"]


@contextmanager
def serve(database_url: str, log: Path) -> Iterator[str]:
    """One `crm-server serve` process on a free port; yields its base URL once /health answers."""
    port = free_port()
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_PORT": str(port),
        "CRM_DB_POOL_SIZE": "3",
        "CRM_LOG_LEVEL": "warning",
    }
    with log.open("w") as out:
        proc = subprocess.Popen([*_crm_server(), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"crm-server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"crm-server did not become healthy:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()  # SIGTERM: uvicorn's graceful shutdown, as systemd stops it
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_two_server_processes_share_health_and_live_events(database_url: str, tmp_path: Path) -> None:
    made = subprocess.run(
        [*_crm_server(), "create-admin", "--email", "it@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
        env={**os.environ, "CRM_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr

    with serve(database_url, tmp_path / "a.log") as a, serve(database_url, tmp_path / "b.log") as b:
        for base in (a, b):
            health = httpx.get(base + "/health", timeout=5).json()
            assert health["status"] == "ok", health
            assert health["database"]["status"] == "ok" and health["events"]["status"] == "ok"
        asyncio.run(_change_on_a_is_seen_on_b(a, b))


async def _change_on_a_is_seen_on_b(a: str, b: str) -> None:
    async with httpx.AsyncClient(base_url=a, timeout=10) as api_a:
        login = await api_a.post("/api/auth/login", json={"email": "it@example.com", "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["token"]  # a session made on A is valid on B: sessions live in the database
        api_a.headers["Authorization"] = f"Bearer {token}"

        ws_url = b.replace("http://", "ws://") + "/api/events"
        async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello"
            created = await api_a.post("/api/teams", json={"name": "Across processes"})
            assert created.status_code in (200, 201), created.text
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert event["type"] == "event"
            assert (event["entity"], event["entity_id"], event["action"]) == ("team", created.json()["id"], "created")
            assert event["seq"] > hello["last_seq"]

        # And the other way round: B's change reaches a socket on A.
        async with httpx.AsyncClient(base_url=b, timeout=10, headers={"Authorization": f"Bearer {token}"}) as api_b:
            ws_url = a.replace("http://", "ws://") + "/api/events"
            async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                json.loads(await asyncio.wait_for(ws.recv(), 5))
                created = await api_b.post("/api/teams", json={"name": "Back again"})
                assert created.status_code in (200, 201), created.text
                event = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert (event["entity"], event["entity_id"]) == ("team", created.json()["id"])


def test_crm_server_script_is_installed() -> None:
    # The systemd unit and the README call the console script; make sure the venv has it.
    assert shutil.which("crm-server", path=str(Path(sys.executable).parent)), "pip install -e . creates crm-server"
