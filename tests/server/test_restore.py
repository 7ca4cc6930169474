"""Restoring a backup (issue #21), through HTTP and the CLI, with the embedded build's real pg_dump
and pg_restore: into a new database (equal row counts), in place of the live one (the company's name
typed, desktops told, the live-event sequence and the job queue consistent afterwards), and hostile
files refused with a clear 4xx / exit code."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crm_server.admin import settings
from crm_server.backups import service
from crm_server.backups.models import Backup
from crm_server.contract.events import RESTART_CLOSE_CODE
from crm_server.db import Database
from crm_server.jobs.runner import JobRunner
from tests.support import LiveServer, make_url

_names = itertools.count()


async def _backup(server: LiveServer, folder: Path) -> tuple[int, Path]:
    """A verified backup made by the backups service (what the nightly job and "Run backup now" do)."""
    async with server.session() as s:
        await settings.put(s, "backup.folder", str(folder), None)  # the safety backup goes there too
        row = await service.start(s, "manual", None, folder=str(folder), queue_job=False)
        backup_id = row.id
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    try:
        said = await service.run(db, backup_id)
    finally:
        await db.dispose()
    async with server.session() as s:
        made = await s.get(Backup, backup_id)
        assert made is not None and made.status == "succeeded", said
        return backup_id, Path(made.folder or "") / (made.file_name or "")


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        return int(row[0]) if row else 0


def _drop(database_url: str, name: str) -> None:
    with psycopg.connect(make_url(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _databases(database_url: str) -> set[str]:
    with psycopg.connect(make_url(database_url, "postgres")) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


async def _lead(api: Any, name: str) -> int:
    response = await api.post("/api/leads", json={"person_name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_restore_into_a_new_database_gives_equal_row_counts(
    server: LiveServer, admin: Any, tmp_path: Path
) -> None:
    for n in range(3):
        await _lead(admin, f"Lead {n}")
    backup_id, _ = await _backup(server, tmp_path)
    async with server.session() as s:
        made = await s.get(Backup, backup_id)
        assert made is not None
        recorded: dict[str, int] = dict(made.row_counts or {})
    assert recorded["public.leads"] == 3
    name = f"look_{os.getpid()}_{next(_names)}"
    try:
        response = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["mode"], body["database"], body["counts_match"]) == ("new", name, True)
        # Counted again here, table by table, in the new database.
        restored = make_url(server.database_url, name)
        for table, rows in recorded.items():
            assert _count(restored, table.split(".", 1)[1]) == rows, table
        assert body["rows"] == sum(recorded.values())
        # The live data were not touched; the name is now taken.
        assert _count(server.database_url, "leads") == 3
        again = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
        assert (again.status_code, again.json()["code"], again.json()["field"]) == (409, "database_exists", "database")
        bad = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": 'x"; DROP'})
        assert (bad.status_code, bad.json()["field"]) == (422, "database")
    finally:
        _drop(server.database_url, name)


async def test_an_encrypted_backup_is_decrypted_with_the_passphrase(
    server: LiveServer, admin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _lead(admin, "Secret")
    monkeypatch.setenv("CRM_BACKUP_PASSPHRASE", "correct horse battery staple")
    backup_id, path = await _backup(server, tmp_path)
    assert path.read_bytes().startswith(b"age-encryption.org/")
    name = f"look_{os.getpid()}_{next(_names)}"
    try:
        monkeypatch.setenv("CRM_BACKUP_PASSPHRASE", "a wrong one")
        wrong = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
        assert (wrong.status_code, wrong.json()["code"]) == (422, "cannot_decrypt"), wrong.text
        monkeypatch.delenv("CRM_BACKUP_PASSPHRASE")
        unset = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
        assert (unset.status_code, unset.json()["code"]) == (409, "passphrase_missing"), unset.text
        monkeypatch.setenv("CRM_BACKUP_PASSPHRASE", "correct horse battery staple")
        done = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
        assert done.status_code == 200 and done.json()["counts_match"] is True, done.text
        assert _count(make_url(server.database_url, name), "leads") == 1
    finally:
        _drop(server.database_url, name)


async def test_in_place_restore_needs_the_company_name_and_an_admin(
    server: LiveServer, admin: Any, tmp_path: Path
) -> None:
    lead = await _lead(admin, "Kept")
    backup_id, _ = await _backup(server, tmp_path)
    for body in ({"mode": "in_place"}, {"mode": "in_place", "confirm": "Not the company"}):
        refused = await admin.post(f"/api/backups/{backup_id}/restore", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "confirm"
    hostile = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "in_place", "confirm": "My\x00Co"})
    assert hostile.status_code == 422 and hostile.json()["field"] == "confirm", hostile.text
    await server.create_user("sales@example.com")
    async with server.client() as sales:
        await server.login(sales, "sales@example.com")
        denied = await sales.post(
            f"/api/backups/{backup_id}/restore", json={"mode": "in_place", "confirm": "My Company"}
        )
        assert denied.status_code == 403, denied.text
    assert (await admin.get(f"/api/leads/{lead}")).status_code == 200
    async with server.session() as s:  # no safety backup was taken for a refused restore
        assert await s.get(Backup, backup_id + 1) is None


async def test_a_file_that_is_not_a_backup_is_refused_with_a_4xx(
    server: LiveServer, admin: Any, tmp_path: Path
) -> None:
    backup_id, path = await _backup(server, tmp_path)
    whole = path.read_bytes()
    before = _databases(server.database_url)
    name = f"look_{os.getpid()}_{next(_names)}"
    path.write_bytes(b"\x00not a dump at all\n" * 100)
    junk = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "new", "database": name})
    assert (junk.status_code, junk.json()["code"], junk.json()["field"]) == (422, "not_a_backup", "file"), junk.text
    path.write_bytes(whole[:-200])  # truncated: its table of contents still reads (pg_restore --list passes)
    cut = await admin.post(f"/api/backups/{backup_id}/restore", json={"mode": "in_place", "confirm": "My Company"})
    assert cut.status_code == 422 and cut.json()["field"] == "file", cut.text
    assert cut.json()["code"] == "backup_unreadable"
    assert _databases(server.database_url) == before  # nothing half-made left behind
    async with server.session() as s:  # refused before the safety backup was taken
        assert await s.get(Backup, backup_id + 1) is None
    missing = await admin.post("/api/backups/999999/restore", json={"mode": "new", "database": name})
    assert missing.status_code == 404


async def _frames_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    except ConnectionClosed:
        return frames


async def _job_status(server: LiveServer, job_id: int) -> str:
    with psycopg.connect(server.database_url) as conn:
        row = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
        return str(row[0]) if row else "gone"


async def test_in_place_restore_with_a_desktop_connected(server: LiveServer, admin: Any, tmp_path: Path) -> None:
    kept = await _lead(admin, "In the backup")
    queued = await admin.post("/api/admin/jobs/maintenance.purge/run")
    assert queued.status_code == 202, queued.text
    job_id = int(queued.json()["id"])
    await server.create_user("sales@example.com")
    async with server.client() as sales:
        signed_out = (await server.login(sales, "sales@example.com"))["token"]
        backup_id, _ = await _backup(server, tmp_path)  # the job is still waiting in the backup
        assert (await sales.post("/api/auth/logout")).status_code in (200, 204)
    async with server.client() as second:
        signed_in_since = (await server.login(second, "admin@example.com"))["token"]
    # The job runs (a worker) after the backup: done on the live database.
    db = Database(server.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    worker = JobRunner(server.database_url, db, name="test-worker")
    await worker.start()
    try:
        for _ in range(600):
            if await _job_status(server, job_id) == "succeeded":
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        await db.dispose()
    assert await _job_status(server, job_id) == "succeeded"

    token = admin.headers["Authorization"].split()[1]
    ws = await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await ws.recv())["type"] == "hello"
    gone = await _lead(admin, "Made after the backup")
    seen = 0
    while True:  # the desktop sees the new lead: the highest sequence number it has seen
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("entity") == "lead" and frame.get("entity_id") == gone:
            seen = int(frame["seq"])
            break

    reading = asyncio.create_task(_frames_until_closed(ws))
    response = await admin.post(
        f"/api/backups/{backup_id}/restore", json={"mode": "in_place", "confirm": "  my company "}
    )
    assert response.status_code == 200, response.text
    done = response.json()
    frames = await reading
    assert ws.close_code == RESTART_CLOSE_CODE
    # The desktop was told the server is restoring, then that it restored, then to reload everything.
    server_events = [f["action"] for f in frames if f.get("type") == "event" and f["module"] == "server"]
    assert server_events == ["restoring", "restored"], frames
    restored = next(f for f in frames if f.get("action") == "restored")
    assert restored["seq"] > seen and restored["seq"] == done["event_seq"]
    assert frames[-1] == {"type": "reset"}

    # The data are the backup's: the lead made after it is gone, the one before is there.
    assert (await admin.get(f"/api/leads/{gone}")).status_code == 404
    assert (await admin.get(f"/api/leads/{kept}")).status_code == 200
    # The job done before the restore is not queued again (workers take only "todo" jobs).
    assert await _job_status(server, job_id) == "succeeded"
    assert done["jobs_kept_finished"] >= 1
    # The safety backup is listed (the list of backups is the live one), its file there.
    listed = (await admin.get("/api/backups")).json()
    assert done["safety_backup_id"] in [b["id"] for b in listed["items"]]

    # Sign-ins are the present's: one ended since the backup stays ended, one begun since goes on.
    async with server.client(signed_out) as stale, server.client(signed_in_since) as fresh:
        assert (await stale.get("/api/auth/me")).status_code == 401
        assert (await fresh.get("/api/auth/me")).status_code == 200
    # A desktop reconnecting from what it saw is told to reload, never given older events again.
    again = await connect(f"{server.ws_url}?since={seen}", additional_headers={"Authorization": f"Bearer {token}"})
    async with again:
        hello = json.loads(await again.recv())
        assert hello["type"] == "hello" and hello["last_seq"] >= restored["seq"]
        first = json.loads(await asyncio.wait_for(again.recv(), 10))
        assert (first["module"], first["action"], first["seq"]) == ("server", "restored", restored["seq"])
        assert json.loads(await asyncio.wait_for(again.recv(), 10)) == {"type": "reset"}
        # New changes continue above every number the desktop saw before.
        newer = await _lead(admin, "After the restore")
        frame = json.loads(await asyncio.wait_for(again.recv(), 10))
        assert frame["entity_id"] == newer and frame["seq"] > restored["seq"] > seen


def _cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_DATABASE_URL": database_url, "CRM_LOG_LEVEL": "warning", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "crm_server.cli", "restore", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


async def test_cli_restore_into_a_new_database(server: LiveServer, admin: Any, tmp_path: Path) -> None:
    await _lead(admin, "Counted")
    _, path = await _backup(server, tmp_path)
    name = f"look_{os.getpid()}_{next(_names)}"
    try:
        done = await asyncio.to_thread(_cli, [str(path), "--into", name], server.database_url)
        assert done.returncode == 0, done.stderr
        assert name in done.stdout
        assert _count(make_url(server.database_url, name), "leads") == 1
        # In place, beside the serving server: the lead made after the backup is gone.
        await _lead(admin, "After the backup")
        done = await asyncio.to_thread(_cli, [str(path), "--confirm", "My Company"], server.database_url)
        assert done.returncode == 0, done.stderr
        assert "safety backup #" in done.stdout
        assert _count(server.database_url, "leads") == 1
    finally:
        _drop(server.database_url, name)


def test_cli_restore_says_why_it_refuses_with_an_exit_code(database_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "holiday.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 not a backup")
    name = f"look_{os.getpid()}_{next(_names)}"
    for args, code, words in (
        ([str(junk), "--into", name], 65, "not a backup"),  # EX_DATAERR
        ([str(tmp_path / "nothing.dump")], 66, "does not exist"),  # EX_NOINPUT
        ([str(junk)], 64, "company"),  # in place without --confirm, and no terminal to ask on
    ):
        done = _cli(args, database_url)
        assert done.returncode == code, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("crm-server restore: ") and words in lines[0], done.stderr
    assert name not in _databases(database_url)


async def test_the_servers_job_worker_runs_again_after_an_in_place_restore(database_url: str, tmp_path: Path) -> None:
    """Production runs the worker in the server: it is stopped for the swap and started again on the
    restored database, where new jobs run."""
    with LiveServer.run(database_url, worker=True) as server:
        async with server.client() as admin:
            await server.login_admin(admin)
            backup_id, _ = await _backup(server, tmp_path)
            body = {"mode": "in_place", "confirm": "My Company"}
            assert (await admin.post(f"/api/backups/{backup_id}/restore", json=body)).status_code == 200
            queued = await admin.post("/api/admin/jobs/maintenance.purge/run")
            assert queued.status_code == 202, queued.text
            job_id = int(queued.json()["id"])
            for _ in range(600):
                if await _job_status(server, job_id) == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert await _job_status(server, job_id) == "succeeded"
