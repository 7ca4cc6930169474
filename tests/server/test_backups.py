"""Backups (issue #21), through HTTP and the CLI, with the embedded build's real pg_dump and
pg_restore: verified files, test restores with equal row counts, failures in words (a read-only
folder, a full disk, a pg_dump of another version), alerts by e-mail, retention, encryption,
downloads, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from crm_server.backups import tools
from tests.support import ADMIN_EMAIL, LiveServer, Smtp


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


async def test_download_streams_the_same_bytes(live: LiveServer, api: httpx.AsyncClient, tmp_path: Path) -> None:
    await _set(api, {"backup.folder": str(tmp_path)})
    done = await _backup(api)
    digest = hashlib.sha256()
    async with api.stream("GET", f"/api/backups/{done['id']}/download") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert done["file_name"] in r.headers["content-disposition"]
        async for chunk in r.aiter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == done["sha256"] == r.headers["x-backup-sha256"]
    assert (await api.get("/api/backups/999999/download")).status_code == 404
    async with live.client() as stranger:  # not signed in
        assert (await stranger.get(f"/api/backups/{done['id']}/download")).status_code == 401


async def test_a_truncated_file_is_caught_by_verification(api: httpx.AsyncClient, tmp_path: Path) -> None:
    await _set(api, {"backup.folder": str(tmp_path)})
    done = await _backup(api)
    file = tmp_path / done["file_name"]
    data = file.read_bytes()
    file.write_bytes(data[: len(data) * 99 // 100])  # the end of the last table's data is cut off
    # Reading only the table of contents does not notice (why verification reads the whole file) ...
    listed = await asyncio.to_thread(
        subprocess.run, [tools.binary("pg_restore"), "--list", str(file)], capture_output=True, text=True
    )
    assert listed.returncode == 0
    # ... reading it whole does.
    checked = await _test_restored(api, done["id"])
    assert checked["verify_ok"] is False and checked["test_restore_ok"] is False
    assert "could not be read back whole" in checked["test_restore_detail"]
    assert "pg_restore" in checked["test_restore_detail"]
    status = (await api.get("/api/backups/status")).json()
    assert status["state"] == "failed" and "test restore" in status["message"]
    assert (await api.get("/health")).json()["backups"]["status"] == "down"


def test_cli_backup_list_and_test_restore(database_url: str, tmp_path: Path) -> None:
    made = _cli(["backup", "--to", str(tmp_path)], database_url)
    assert made.returncode == 0, made.stderr
    assert "verified" in made.stdout
    files = [p for p in tmp_path.iterdir()]
    assert len(files) == 1 and files[0].name.endswith(".dump")
    listed = _cli(["backups", "list", "--json"], database_url)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["status"], r["verify_ok"], r["file_name"]) for r in rows] == [("succeeded", True, files[0].name)]
    tested = _cli(["backups", "test-restore", str(rows[0]["id"])], database_url)
    assert tested.returncode == 0, tested.stderr
    assert "same row counts" in tested.stdout
    missing = _cli(["backups", "test-restore", "424242"], database_url)
    assert missing.returncode == 1 and "No such backup" in missing.stderr


def test_an_unwritable_folder_is_permission_denied(database_url: str, tmp_path: Path) -> None:
    with _mounted(tmp_path / "ro", "-o", "ro,size=4m") as folder:
        done = _cli(["backup", "--to", str(folder)], database_url)
    assert done.returncode == 73, done.stderr
    reason = done.stderr.strip().splitlines()[-1]  # the one line IT's script reads
    assert reason.startswith("crm-server backup: Permission denied") and str(folder) in reason
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT status, error_code, error_message FROM backups").fetchone()
    assert row is not None and row[:2] == ("failed", "permission_denied")


def test_a_full_disk_is_insufficient_storage(database_url: str, tmp_path: Path) -> None:
    with _mounted(tmp_path / "tiny", "-o", "size=256k") as folder:
        done = _cli(["backup", "--to", str(folder)], database_url)
        left = list(folder.iterdir())
    assert done.returncode == 74, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("crm-server backup: Insufficient storage"), done.stderr
    assert left == []  # nothing half-written stays behind


def test_a_disk_that_fills_up_during_the_dump_is_insufficient_storage(database_url: str, tmp_path: Path) -> None:
    """The free space check passes (the last backup was small), then pg_dump meets ENOSPC."""
    first = _cli(["backup", "--to", str(tmp_path / "first")], database_url)
    assert first.returncode == 0, first.stderr
    with psycopg.connect(database_url) as conn:  # about 3 MB more that does not compress away
        conn.execute(
            "INSERT INTO settings (key, value) SELECT 'test.blob', to_jsonb(string_agg(md5(random()::text), ''))"
            " FROM generate_series(1, 100000)"
        )
    with _mounted(tmp_path / "small", "-o", "size=1m") as folder:
        done = _cli(["backup", "--to", str(folder)], database_url)
        left = list(folder.iterdir())
    reason = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 74, done.stderr
    assert reason.startswith("crm-server backup: Insufficient storage") and "No space left" in reason, reason
    assert left == []


def test_pg_dump_of_another_version_is_refused_first(database_url: str, tmp_path: Path) -> None:
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    done = _cli(["backup", "--to", str(tmp_path / "out")], database_url, CRM_PG_DUMP=str(fake))
    assert done.returncode == 69, done.stderr
    reason = done.stderr.strip().splitlines()[-1]
    assert reason.startswith("crm-server backup: pg_dump version mismatch"), done.stderr
    assert "9.6.24" in reason and "CRM_PG_DUMP" in reason


async def test_a_failing_nightly_backup_emails_the_admins(
    live: LiveServer, api: httpx.AsyncClient, smtp: Smtp, tmp_path: Path
) -> None:
    await live.create_user("second@example.com", role="Admin", full_name="Second Admin")
    await live.create_user("sales@example.com", role="Salesperson")
    with _mounted(tmp_path / "ro", "-o", "ro,size=4m") as folder:
        await _set(api, {**smtp.settings(), "backup.folder": str(folder)})
        r = await api.post("/api/admin/jobs/backups.nightly/run")
        assert r.status_code == 202, r.text
        messages = await smtp.wait_for(2, timeout=60)
    assert sorted(m["To"] for m in messages) == sorted([ADMIN_EMAIL, "second@example.com"])
    assert all(m["Subject"].startswith("Backup failed: Permission denied") for m in messages)
    assert str(folder) in messages[0].get_content()
    bell = (await api.get("/api/notifications")).json()["items"]
    assert [n["kind"] for n in bell] == ["backup_failed"] and "Permission denied" in bell[0]["title"]
    listed = (await api.get("/api/backups")).json()["items"]
    assert [(b["kind"], b["status"], b["error_code"]) for b in listed] == [("nightly", "failed", "permission_denied")]
    health = await api.get("/health")
    assert health.status_code == 200  # still serving: the flag asks a person, not the load balancer
    assert health.json()["backups"]["status"] == "down" and health.json()["attention"] == ["backups"]


async def test_encryption_round_trip(
    live: LiveServer, api: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyrage  # type: ignore[import-untyped]

    monkeypatch.setenv("CRM_BACKUP_PASSPHRASE", "correct horse battery staple")
    await _set(api, {"backup.folder": str(tmp_path)})
    assert (await api.get("/api/backups/settings")).json()["encryption"] is True
    done = await _backup(api)
    assert done["status"] == "succeeded" and done["encrypted"] is True and done["file_name"].endswith(".age")
    sealed = (tmp_path / done["file_name"]).read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1") and b"PGDMP" not in sealed[:4096]
    assert pyrage.passphrase.decrypt(sealed, "correct horse battery staple").startswith(b"PGDMP")
    with pytest.raises(pyrage.DecryptError):
        pyrage.passphrase.decrypt(sealed, "wrong")
    restored = await _test_restored(api, done["id"])
    assert restored["test_restore_ok"] is True, restored["test_restore_detail"]
    assert os.listdir(tmp_path) == [done["file_name"]]  # no plain copy left behind


async def test_cancel_stops_pg_dump_and_removes_the_partial_file(
    live: LiveServer, api: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = tmp_path / "slow_pg_dump"
    slow.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "args = sys.argv[1:]\n"
        "if args == ['--version']:\n"
        f"    import os; os.execv({tools.binary('pg_dump')!r}, ['pg_dump', '--version'])\n"
        "path = next(a.split('=', 1)[1] for a in args if a.startswith('--file='))\n"
        "open(path, 'wb').write(b'PGDMP' + b'x' * 100000)\n"
        "time.sleep(120)\n"
    )
    slow.chmod(0o755)
    monkeypatch.setenv("CRM_PG_DUMP", str(slow))
    out = tmp_path / "out"
    await _set(api, {"backup.folder": str(out)})
    token = str(api.headers["Authorization"]).removeprefix("Bearer ")
    ws = await connect(live.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    assert json.loads(await ws.recv())["type"] == "hello"
    started = (await api.post("/api/backups", json={})).json()
    deadline = time.monotonic() + 30
    while not any(p.name.endswith(".partial") for p in (out.iterdir() if out.exists() else [])):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    again = await api.post("/api/backups", json={})
    assert again.status_code == 409 and again.json()["code"] == "backup_running"
    deadline = time.monotonic() + 30
    while (await api.get(f"/api/backups/{started['id']}")).json()["progress"] == 0:  # bytes written / estimate
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    r = await api.post(f"/api/backups/{started['id']}/cancel")
    assert r.status_code == 200, r.text
    done = await _finished(api, started["id"])
    assert done["status"] == "cancelled" and done["error_code"] == "cancelled"
    assert list(out.iterdir()) == []
    assert (await api.post(f"/api/backups/{started['id']}/cancel")).status_code == 409
    # The desktop's progress bar and list follow the live events of the backup.
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while not any(e["action"] == "updated" and e["data"]["status"] == "cancelled" for e in seen):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame.get("entity") == "backup" and frame.get("entity_id") == started["id"]:
                seen.append(frame)
    await ws.close()
    assert seen and all(e["module"] == "admin" for e in seen)
    assert any(e["action"] == "progress" and e["data"]["progress"] > 0 for e in seen), seen
    assert seen[-1]["action"] == "updated" and seen[-1]["data"]["status"] == "cancelled"


async def test_the_nightly_job_backs_up_and_test_restores_weekly(
    live: LiveServer, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _set(api, {"backup.folder": str(tmp_path)})
    r = await api.post("/api/admin/jobs/backups.nightly/run")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while True:
        items = (await api.get("/api/backups")).json()["items"]
        if items and items[0]["test_restored_at"]:
            break
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.2)
    (first,) = items
    assert (first["kind"], first["status"], first["verify_ok"], first["test_restore_ok"]) == (
        "nightly",
        "succeeded",
        True,
        True,
    )
    assert first["kept_until"] is not None
    # A second run the same week backs up again but does not test-restore again.
    r = await api.post("/api/admin/jobs/backups.nightly/run")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while True:
        items = (await api.get("/api/backups")).json()["items"]
        if len(items) == 2 and items[0]["status"] != "running":
            break
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    second = (await api.get(f"/api/backups/{items[0]['id']}")).json()
    assert second["status"] == "succeeded" and second["test_restored_at"] is None


async def test_backups_turned_off_is_not_configured_in_health(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json()["backups"]["status"] == "not_configured"  # no backup yet
    assert (await api.get("/api/backups/status")).json()["state"] == "never"
    await _set(api, {"backup.enabled": False})
    status = (await api.get("/api/backups/status")).json()
    assert status["state"] == "not_configured" and status["configured"] is False
    health = (await api.get("/health")).json()
    assert health["backups"]["status"] == "not_configured" and health["attention"] == []
    r = await api.put(
        "/api/backups/settings",
        json={"enabled": True, "folder": "/srv/b", "hour": 3, "keep_daily": 5, "keep_weekly": 2, "keep_monthly": 1},
    )
    assert r.status_code == 200, r.text
    assert r.json()["hour"] == 3 and r.json()["folder"] == "/srv/b" and r.json()["enabled"] is True
    assert r.json()["effective_folder"] == "/srv/b"
    await _set(api, {"backup.folder": ""})
    assert (await api.get("/api/backups/settings")).json()["effective_folder"].endswith("/backups")
    bad = await api.put("/api/backups/settings", json={"hour": 24})
    assert bad.status_code == 422 and "hour" in bad.text


async def test_a_last_good_backup_older_than_26_hours_is_red(server: LiveServer, admin: httpx.AsyncClient) -> None:
    with psycopg.connect(server.database_url) as conn:
        conn.execute(
            "INSERT INTO backups (kind, status, started_at, finished_at, file_name, verify_ok) VALUES"
            " ('nightly', 'succeeded', now() - interval '27 hours', now() - interval '27 hours', 'old.dump', true)"
        )
    health = await admin.get("/health")
    assert "backups" not in health.json()["down"]  # (this server runs no job worker: that is down)
    assert health.json()["backups"]["status"] == "down" and health.json()["attention"] == ["backups"]
    assert "27 hours old" in health.json()["backups"]["detail"]
    status = (await admin.get("/api/backups/status")).json()
    assert status["state"] == "stale" and status["ok"] is False
    with psycopg.connect(server.database_url) as conn:
        conn.execute(
            "UPDATE backups SET started_at = now() - interval '25 hours', finished_at = now() - interval '25 hours'"
        )
    assert (await admin.get("/health")).json()["backups"]["status"] == "ok"


def _insert_history(database_url: str, folder: Path, days: list[datetime]) -> None:
    with psycopg.connect(database_url) as conn:
        for day in days:
            name = f"crm-{day:%Y-%m-%d}-nightly.dump"
            (folder / name).write_bytes(b"PGDMP")
            conn.execute(
                "INSERT INTO backups (kind, status, started_at, finished_at, folder, file_name, size_bytes,"
                " verify_ok, verified_at) VALUES ('nightly', 'succeeded', %s, %s, %s, %s, 5, true, %s)",
                (day, day + timedelta(minutes=1), str(folder), name, day + timedelta(minutes=1)),
            )


def test_retention_over_a_simulated_month(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """7 daily, 4 weekly, 6 monthly (the defaults), pruned every day of March 2026 with a fixed
    clock: what is left is the last 7 days, the newest of the last 4 ISO weeks and of each month."""
    from crm_server import cli
    from crm_server.config import get_config

    monkeypatch.setenv("CRM_DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_LOG_LEVEL", "warning")
    get_config.cache_clear()
    try:
        start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
        _insert_history(database_url, tmp_path, [start + timedelta(days=n) for n in range(59)])  # to Feb 28
        assert cli.main(["backups", "prune", "--as-of", "2026-02-28T12:00:00+00:00"]) == 0
        for n in range(59, 90):  # March 1 ... 31, a backup each night, pruned at noon
            day = start + timedelta(days=n)
            _insert_history(database_url, tmp_path, [day])
            assert cli.main(["backups", "prune", "--as-of", f"{day:%Y-%m-%d}T12:00:00+00:00"]) == 0
    finally:
        get_config.cache_clear()
    left = sorted(p.name.removeprefix("crm-").removesuffix("-nightly.dump") for p in tmp_path.iterdir())
    march_last_week = [f"2026-03-{d}" for d in range(25, 32)]
    assert left == ["2026-01-31", "2026-02-28", "2026-03-15", "2026-03-22", *march_last_week]
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT file_name, removed_at IS NOT NULL, kept_until FROM backups").fetchall()
    assert len(rows) == 90
    assert sorted(r[0] for r in rows if not r[1]) == sorted(f"crm-{d}-nightly.dump" for d in left)
    assert all(r[2] is not None for r in rows if not r[1])
