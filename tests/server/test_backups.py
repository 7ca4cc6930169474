"""Backups (issue #21), through HTTP and the CLI, with the embedded build's real pg_dump and
pg_restore: verified files, test restores with equal row counts, failures in words (a read-only
folder, a full disk, a pg_dump of another version), alerts by e-mail, retention, encryption,
downloads, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support import LiveServer


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    """The app with its job worker on: run-now backups and test restores are jobs."""
    with LiveServer.run(database_url, worker=True) as server:
        yield server


@pytest.fixture
async def api(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as client:
        await live.login_admin(client)
        yield client


async def _set(api: httpx.AsyncClient, values: dict[str, Any]) -> None:
    r = await api.patch("/api/settings", json={"values": values})
    assert r.status_code == 200, r.text


async def _finished(api: httpx.AsyncClient, backup_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await api.get(f"/api/backups/{backup_id}")).json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def _backup(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.post("/api/backups", json={})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running"
    return await _finished(api, r.json()["id"])


async def _test_restored(api: httpx.AsyncClient, backup_id: int, timeout: float = 60) -> dict[str, Any]:
    r = await api.post(f"/api/backups/{backup_id}/test-restore")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await api.get(f"/api/backups/{backup_id}")).json()
        if body["test_restored_at"] is not None:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


def _cli(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_server.cli", *args],
        env={**os.environ, "CRM_DATABASE_URL": database_url, "CRM_LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def _mounted(folder: Path, *options: str) -> Iterator[Path]:
    """A tmpfs mounted on `folder` (we run as root), unmounted after."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", *options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root and mount rights")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_backup_verify_and_test_restore_give_equal_row_counts(
    live: LiveServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _set(api, {"backup.folder": str(tmp_path / "b")})
    r = await api.post("/api/leads", json={"person_name": "Ana Pop"})
    assert r.status_code in (200, 201), r.text
    done = await _backup(api)
    assert done["status"] == "succeeded", done
    assert done["verify_ok"] is True and done["verified_at"] and done["progress"] == 1.0
    file = tmp_path / "b" / done["file_name"]
    assert file.is_file() and file.stat().st_size == done["size_bytes"]
    assert hashlib.sha256(file.read_bytes()).hexdigest() == done["sha256"]
    assert not [p for p in file.parent.iterdir() if p.name.endswith(".partial")]

    restored = await _test_restored(api, done["id"])
    assert restored["test_restore_ok"] is True, restored["test_restore_detail"]
    assert "same row counts" in restored["test_restore_detail"]
    status = (await api.get("/api/backups/status")).json()
    assert status["state"] == "ok" and status["ok"] is True
    health = (await api.get("/health")).json()
    assert health["backups"]["status"] == "ok" and health["attention"] == []

    listed = (await api.get("/api/backups")).json()
    assert [b["id"] for b in listed["items"]] == [done["id"]]
    # the scratch database is gone again
    with psycopg.connect(live.database_url) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'crm_test_restore_%'").fetchall()
        assert left == []
