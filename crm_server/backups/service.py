"""The rules of backups (issue #21).

A backup: `pg_dump -Fc` of the whole database, run inside an exported REPEATABLE READ snapshot in
which the rows of every table were counted (so the counts are exactly the dump's), written to the
backup folder under a temporary name (`.partial`) and renamed when complete; optionally encrypted
with age (pyrage, passphrase from CRM_BACKUP_PASSPHRASE); then verified by reading the whole
archive back (`pg_restore -f /dev/null`, which fails on a truncated file where `pg_restore --list`
does not), with its size and SHA-256 recorded.

A test restore: the file read back whole again, loaded into a scratch database, the row count of
every table compared with those at dump time, the scratch database dropped; the result kept.

Retention: the newest backup of each of the last N days, M ISO weeks and K months is kept; any
other verified file is removed only once a newer verified backup exists.

A failure is found in words ("Insufficient storage", "Permission denied", "Connection timed out",
"pg_dump version mismatch"), written on the row, told to every admin in the bell and (through a
queued job, in the same transaction) by e-mail, and shown red in /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import settings
from crm_server.admin.service import notify
from crm_server.auth.models import Role, User
from crm_server.backups import tools
from crm_server.backups.models import Backup
from crm_server.backups.tools import BackupError, Target
from crm_server.config import get_config
from crm_server.contract.admin import ComponentHealth
from crm_server.contract.backups import BackupOut, BackupSettings, BackupStatusOut
from crm_server.contract.common import Page
from crm_server.db import Database, utcnow
from crm_server.errors import Conflict, NotFound
from crm_server.jobs import queue

log = logging.getLogger(__name__)

RUN_TASK = "backups.run"
TEST_RESTORE_TASK = "backups.test_restore"
ALERT_TASK = "backups.alert"

PASSPHRASE_ENV = "CRM_BACKUP_PASSPHRASE"
# A last good backup older than this is a red flag.
STALE_AFTER = timedelta(hours=26)
# How often the nightly job also test-restores the newest backup.
TEST_RESTORE_EVERY = timedelta(days=7)
# A "running" row older than this belongs to a process that died: it no longer blocks a new backup.
RUNNING_GIVES_UP = timedelta(hours=12)
# How long an operation on the backup folder (a mounted share) may hang before "Connection timed out".
FOLDER_TIMEOUT = 60.0
PROGRESS_EVERY = 1.0  # seconds between progress updates of a running backup
PARTIAL = ".partial"
# pg_restore workers of a test restore.
RESTORE_JOBS = max(1, min(4, os.cpu_count() or 1))


def passphrase() -> str | None:
    return os.environ.get(PASSPHRASE_ENV) or None


def default_folder() -> Path:
    return Path(get_config().data_dir) / "backups"


def expand(folder: str) -> Path:
    """A folder as typed ("~/backups" too), made absolute."""
    return Path(folder).expanduser().absolute()


async def folder_setting(session: AsyncSession) -> Path:
    chosen = str(await settings.get(session, "backup.folder") or "").strip()
    return expand(chosen) if chosen else default_folder()


def to_out(row: Backup) -> BackupOut:
    return BackupOut(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        started_at=row.started_at,
        finished_at=row.finished_at,
        file_name=row.file_name,
        folder=row.folder,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        encrypted=row.encrypted,
        verified_at=row.verified_at,
        verify_ok=row.verify_ok,
        test_restored_at=row.test_restored_at,
        test_restore_ok=row.test_restore_ok,
        test_restore_detail=row.test_restore_detail,
        error_code=row.error_code,
        error_message=row.error_message,
        kept_until=row.kept_until,
        removed=row.removed_at is not None,
        progress=max(0.0, min(1.0, row.progress or 0.0)),
    )


def _emit(session: AsyncSession, row: Backup, action: str) -> None:
    events.emit(
        session,
        module="admin",
        entity="backup",
        entity_id=row.id,
        action=action,
        data={"status": row.status, "progress": round(row.progress or 0.0, 3)},
    )


async def get(session: AsyncSession, backup_id: int) -> Backup:
    row = await session.get(Backup, backup_id)
    if row is None:
        raise NotFound("No such backup.", field="backup_id")
    return row


def _list_query() -> Select[tuple[Backup]]:
    return select(Backup)


async def list_page(session: AsyncSession, offset: int, limit: int, after: str | None = None) -> Page[BackupOut]:
    return await paging.page(
        session, _list_query(), offset, limit, to_out, (Backup.started_at.desc(), Backup.id.desc()), after=after
    )


# --- settings ------------------------------------------------------------------------------------

SETTING_KEYS = {
    "enabled": "backup.enabled",
    "folder": "backup.folder",
    "hour": "backup.hour",
    "keep_daily": "backup.keep_daily",
    "keep_weekly": "backup.keep_weekly",
    "keep_monthly": "backup.keep_monthly",
}


async def read_settings(session: AsyncSession) -> BackupSettings:
    values = {name: await settings.get(session, key) for name, key in SETTING_KEYS.items()}
    return BackupSettings(
        **values, encryption=passphrase() is not None, effective_folder=str(await folder_setting(session))
    )


# --- starting, cancelling ------------------------------------------------------------------------


async def _running(session: AsyncSession) -> Backup | None:
    return await session.scalar(
        select(Backup)
        .where(Backup.status == "running", Backup.started_at > utcnow() - RUNNING_GIVES_UP)
        .order_by(Backup.id.desc())
        .limit(1)
    )


async def start(
    session: AsyncSession, kind: str, actor_id: int | None, folder: str | None = None, queue_job: bool = True
) -> Backup:
    """A new running backup row, and (`queue_job`) the job that makes it, queued in this transaction."""
    running = await _running(session)
    if running is not None:
        raise Conflict(
            f"A backup is already running (#{running.id}, started {running.started_at:%Y-%m-%d %H:%M} UTC).",
            code="backup_running",
            extra={"backup_id": running.id},
        )
    chosen = expand(folder) if folder else await folder_setting(session)
    row = Backup(
        kind=kind,
        status="running",
        started_at=utcnow(),
        requested_by=actor_id,
        folder=str(chosen),
        encrypted=passphrase() is not None,
        progress=0.0,
        cancel_requested=False,
    )
    session.add(row)
    await session.flush()
    if queue_job:
        await queue.defer(session, RUN_TASK, backup_id=row.id)
    _emit(session, row, "created")
    return row


async def cancel(session: AsyncSession, backup_id: int) -> Backup:
    """Ask the job making a running backup to stop: it kills pg_dump and removes the partial file.
    A row whose process is long gone is marked cancelled at once."""
    row = await get(session, backup_id)
    if row.status != "running":
        raise Conflict("Only a running backup can be cancelled.", code="not_running", field="backup_id")
    row.cancel_requested = True
    if row.started_at < utcnow() - RUNNING_GIVES_UP:
        _finish_failed(row, BackupError("cancelled", "the backup had stopped"), "cancelled")
    _emit(session, row, "updated")
    return row


async def queue_test_restore(session: AsyncSession, backup_id: int) -> Backup:
    row = await get(session, backup_id)
    if row.status != "succeeded" or row.removed_at is not None or not row.file_name:
        raise Conflict("Only a finished backup whose file is kept can be test-restored.", code="not_restorable")
    await queue.defer(session, TEST_RESTORE_TASK, backup_id=row.id, queueing_lock=f"backups.test_restore:{row.id}")
    return row


def file_path(row: Backup) -> Path:
    if row.status != "succeeded" or row.removed_at is not None or not row.file_name or not row.folder:
        raise Conflict("This backup has no file to download.", code="no_file", field="backup_id")
    return Path(row.folder) / row.file_name


# --- the status for the admin page and /health ----------------------------------------------------


async def status(session: AsyncSession, now: datetime | None = None) -> BackupStatusOut:
    now = now or utcnow()
    enabled = bool(await settings.get(session, "backup.enabled"))
    last = await session.scalar(
        select(Backup).where(Backup.status != "running").order_by(Backup.started_at.desc(), Backup.id.desc()).limit(1)
    )
    good = await session.scalar(
        select(Backup)
        .where(Backup.status == "succeeded", Backup.verify_ok.is_(True))
        .order_by(Backup.started_at.desc(), Backup.id.desc())
        .limit(1)
    )
    last_out = to_out(last) if last is not None else None
    good_at = good.finished_at or good.started_at if good is not None else None
    if not enabled:
        return BackupStatusOut(
            configured=False,
            ok=False,
            state="not_configured",
            message="Backups are turned off.",
            last_good_at=good_at,
            last=last_out,
        )
    if last is not None and last.status == "failed" and (good is None or last.started_at > good.started_at):
        return BackupStatusOut(
            configured=True,
            ok=False,
            state="failed",
            message=f"The last backup failed: {last.error_message or 'no reason given'}",
            last_good_at=good_at,
            last=last_out,
        )
    if last is not None and last.test_restore_ok is False:
        return BackupStatusOut(
            configured=True,
            ok=False,
            state="failed",
            message=f"The test restore of the last backup failed: {last.test_restore_detail or ''}".rstrip(": "),
            last_good_at=good_at,
            last=last_out,
        )
    if good_at is None:
        hour = int(await settings.get(session, "backup.hour"))
        return BackupStatusOut(
            configured=True,
            ok=False,
            state="never",
            message=f"No backup has been made yet; the first runs at {hour:02d}:00.",
            last=last_out,
        )
    if now - good_at > STALE_AFTER:
        hours = int((now - good_at).total_seconds() // 3600)
        return BackupStatusOut(
            configured=True,
            ok=False,
            state="stale",
            message=f"The last good backup is {hours} hours old.",
            last_good_at=good_at,
            last=last_out,
        )
    return BackupStatusOut(
        configured=True, ok=True, state="ok", message="The last backup is good.", last_good_at=good_at, last=last_out
    )


async def health(session: AsyncSession) -> ComponentHealth:
    """The `backups` part of /health: down (red) after a failed backup or when the last good one is
    older than 26 hours; not_configured when turned off or before the first backup."""
    state = await status(session)
    if state.state == "ok":
        return ComponentHealth(status="ok", detail=state.message)
    if state.state in ("not_configured", "never"):
        return ComponentHealth(status="not_configured", detail=state.message)
    return ComponentHealth(status="down", detail=state.message)


# --- making a backup -----------------------------------------------------------------------------


def _finish_failed(row: Backup, error: BackupError, status_: str = "failed") -> None:
    row.status = status_
    row.finished_at = utcnow()
    row.error_code = error.code
    row.error_message = error.message
    row.cancel_requested = False


async def admins(session: AsyncSession) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .join(Role, Role.id == User.role_id)
            .where(User.active.is_(True), Role.permissions.contains({"admin": {"actions": ["edit"]}}))
            .order_by(User.id)
        )
    )


async def alert(session: AsyncSession, row: Backup, what: str) -> None:
    """Tell every admin: in the bell now, by e-mail through a queued job (sent once this commits)."""
    title = f"{what}: {row.error_message or row.test_restore_detail or 'see the backups page'}"[:200]
    for user in await admins(session):
        notify(session, user.id, "backup_failed", title, body=title, entity="backup", entity_id=row.id)
    await queue.defer(session, ALERT_TASK, backup_id=row.id, what=what)


async def _fail(db: Database, backup_id: int, error: BackupError) -> None:
    async with db.transaction() as session:
        row = await session.get(Backup, backup_id, with_for_update=True)
        if row is None:
            return
        cancelled = error.code == "cancelled"
        _finish_failed(row, error, "cancelled" if cancelled else "failed")
        _emit(session, row, "updated")
        if not cancelled:
            await alert(session, row, "Backup failed")
    log.warning("backup #%s: %s", backup_id, error.message)


async def _in_time(work: Any, *args: Any, what: str) -> Any:
    """Folder work in a thread, with a limit: a hung share is "Connection timed out"."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work, *args), FOLDER_TIMEOUT)
    except TimeoutError:
        raise BackupError("connection_timed_out", f"{what} did not answer within {FOLDER_TIMEOUT:g} s") from None


def _prepare_folder(folder: Path, needed: int) -> None:
    """The folder exists, takes a file, and has room for about `needed` bytes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".crm-write-test-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise tools.from_os_error(exc, f"the backup folder {folder}") from exc
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise BackupError(
            "insufficient_storage",
            f"the backup needs about {_mb(needed)} and {folder} has {_mb(free)} free",
        )


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"


async def _connect(target: Target, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(target.url_with_password(), **kwargs)
    except psycopg.OperationalError as exc:
        words = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        code = "connection_timed_out" if "timeout" in words.lower() or "timed out" in words.lower() else "failed"
        raise BackupError(code, f"the database: {words}") from exc


async def _tables(conn: psycopg.AsyncConnection[Any]) -> list[tuple[str, str]]:
    cur = await conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        " ORDER BY 1, 2"
    )
    return [(str(a), str(b)) for a, b in await cur.fetchall()]


async def _count_rows(conn: psycopg.AsyncConnection[Any], tables: Iterable[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, name in tables:
        cur = await conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        )
        found = await cur.fetchone()
        counts[f"{schema}.{name}"] = int(found[0]) if found else 0
    return counts


async def _estimate(session: AsyncSession, database_size: int) -> int:
    """Bytes the new file will take, about: the last backup's size, else half the database's size
    (a custom-format dump is compressed and holds no indexes)."""
    last = await session.scalar(
        select(Backup.size_bytes)
        .where(Backup.status == "succeeded", Backup.size_bytes.is_not(None), Backup.encrypted.is_(False))
        .order_by(Backup.started_at.desc())
        .limit(1)
    )
    return max(int(last * 1.1) if last else database_size // 2, 64 * 1024)


def _file_name(row: Backup) -> str:
    return f"crm-{row.started_at:%Y-%m-%d-%H%M%S}Z-{row.kind}-{row.id}.dump" + (".age" if row.encrypted else "")


async def _report_progress(db: Database, backup_id: int, progress: float) -> bool:
    """Write the progress and emit it; True when someone asked to cancel."""
    async with db.transaction() as session:
        row = await session.get(Backup, backup_id)
        if row is None:
            return True
        row.progress = progress
        _emit(session, row, "progress")
        return bool(row.cancel_requested)


@dataclass
class Dumped:
    row_counts: dict[str, int]
    server_version: str


async def _dump(db: Database, row_id: int, target: Target, partial: Path, estimate_hint: int | None) -> Dumped:
    """pg_dump inside an exported snapshot whose row counts are recorded; progress reported."""
    conn = await _connect(target)
    try:
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        cur = await conn.execute(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version'),"
            " pg_database_size(current_database()), pg_export_snapshot()"
        )
        found = await cur.fetchone()
        assert found is not None
        version_num, version, db_size, snapshot = int(found[0]), str(found[1]), int(found[2]), str(found[3])
        pg_dump = await asyncio.to_thread(tools.check_version, "pg_dump", version_num, version)
        async with db.transaction() as session:
            estimate = estimate_hint or await _estimate(session, db_size)
            row = await session.get(Backup, row_id)
            if row is not None:
                row.estimated_bytes = estimate
        await _in_time(_prepare_folder, partial.parent, estimate, what=f"the backup folder {partial.parent}")
        counts = await _count_rows(conn, await _tables(conn))
        await _run_pg_dump(db, row_id, target, pg_dump, snapshot, partial, estimate)
        await conn.rollback()
        return Dumped(counts, version)
    finally:
        await conn.close()


async def _run_pg_dump(
    db: Database, row_id: int, target: Target, pg_dump: str, snapshot: str, partial: Path, estimate: int
) -> None:
    args = [
        pg_dump,
        "--format=custom",
        "--compress=1",
        f"--snapshot={snapshot}",
        f"--file={partial}",
        "--no-password",
        f"--dbname={target.conninfo}",
    ]
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=target.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise BackupError("failed", f"{pg_dump} could not be started: {exc.strerror or exc}") from exc
    assert proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())
    try:
        loop = asyncio.get_running_loop()
        next_report = loop.time() + PROGRESS_EVERY
        while proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), PROGRESS_EVERY / 4)
            if proc.returncode is None and loop.time() >= next_report:
                next_report = loop.time() + PROGRESS_EVERY
                try:
                    written = await asyncio.to_thread(os.path.getsize, partial)
                except OSError:
                    written = 0
                if await _report_progress(db, row_id, min(0.95, written / max(estimate, 1))):
                    raise BackupError("cancelled", "stopped by an admin")
        stderr = (await errors).decode(errors="replace")
        if proc.returncode != 0:
            raise tools.from_tool_output("pg_dump", stderr)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if not errors.done():
            errors.cancel()


def _encrypt(plain: Path, out: Path, secret: str) -> None:
    import pyrage  # type: ignore[import-untyped]

    try:
        data = pyrage.passphrase.encrypt(plain.read_bytes(), secret)
        with out.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise tools.from_os_error(exc, f"writing {out}") from exc
    finally:
        plain.unlink(missing_ok=True)


def decrypt(path: Path, secret: str | None = None) -> bytes:
    """The plain archive of an encrypted backup file (the passphrase from CRM_BACKUP_PASSPHRASE)."""
    import pyrage

    secret = secret or passphrase()
    if not secret:
        raise BackupError("failed", f"{path.name} is encrypted and {PASSPHRASE_ENV} is not set")
    try:
        return bytes(pyrage.passphrase.decrypt(path.read_bytes(), secret))
    except OSError as exc:
        raise tools.from_os_error(exc, f"reading {path}") from exc
    except Exception as exc:  # pyrage.DecryptError: a wrong passphrase or a damaged file
        raise BackupError("verify_failed", f"{path.name} could not be decrypted ({exc})") from exc


def sha256_of(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def _pg_restore(args: list[str], path: Path, encrypted: bool, env: dict[str, str] | None = None) -> str:
    """Run pg_restore on the file (an encrypted one decrypted into its standard input); raises a
    BackupError with its words when it fails."""
    tool = tools.binary("pg_restore")
    stdin_data = await asyncio.to_thread(decrypt, path) if encrypted else None
    command = [tool, *args] + ([] if encrypted else [str(path)])
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdin=subprocess.PIPE if encrypted else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise BackupError("failed", f"{tool} could not be started: {exc.strerror or exc}") from exc
    try:
        _, err = await proc.communicate(stdin_data)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    stderr = err.decode(errors="replace")
    if proc.returncode != 0:
        raise tools.from_tool_output("pg_restore", stderr)
    return stderr


async def read_whole(path: Path, encrypted: bool) -> None:
    """Verification: the whole archive read back and turned into SQL that goes nowhere. Fails on a
    truncated or damaged file (raises BackupError "verify_failed" with pg_restore's words)."""
    if not await asyncio.to_thread(path.exists):
        raise BackupError("verify_failed", f"{path} is missing")
    try:
        await _pg_restore(["--file", os.devnull], path, encrypted)
    except BackupError as exc:
        if exc.code in ("insufficient_storage", "permission_denied", "connection_timed_out"):
            raise
        raise BackupError("verify_failed", exc.detail) from exc


async def run(db: Database, backup_id: int) -> str:
    """Make backup `backup_id` (a running row): the job body, and the CLI's. Never raises for a
    failure it can name: the row says it, admins are told. Returns a line for the job log."""
    try:
        done = await _make(db, backup_id)
    except BackupError as exc:
        await _fail(db, backup_id, exc)
        return exc.message
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(_fail(db, backup_id, BackupError("cancelled", "the server stopped")))
        raise
    except Exception as exc:
        log.exception("backup #%s failed", backup_id)
        await _fail(db, backup_id, BackupError("failed", f"{type(exc).__name__}: {exc}"[:500]))
        return f"failed: {exc}"
    try:
        await apply_retention(db, utcnow())
    except Exception:  # the backup is good; retention tries again next time
        log.exception("backup retention failed")
    return done


async def _make(db: Database, backup_id: int) -> str:
    async with db.transaction() as session:
        row = await session.get(Backup, backup_id)
        if row is None:
            return f"backup #{backup_id} is gone"
        if row.status != "running":
            return f"backup #{backup_id} is {row.status}"
        if row.cancel_requested:
            raise BackupError("cancelled", "stopped by an admin before it started")
        folder = Path(row.folder or await folder_setting(session))
        name, encrypted = _file_name(row), row.encrypted
    secret = passphrase()
    if encrypted and not secret:
        raise BackupError("failed", f"{PASSPHRASE_ENV} is not set, so the backup cannot be encrypted")
    final = folder / name
    plain_partial = folder / (name.removesuffix(".age") + PARTIAL)
    sealed_partial = folder / (name + PARTIAL)
    success = False
    try:
        dumped = await _dump(db, backup_id, Target.from_url(db.url), plain_partial, None)
        if encrypted:
            assert secret is not None
            await _in_time(_encrypt, plain_partial, sealed_partial, secret, what=f"writing {sealed_partial}")
            ready = sealed_partial
        else:
            ready = plain_partial
        try:
            await _in_time(os.replace, ready, final, what=f"the backup folder {folder}")
        except OSError as exc:
            raise tools.from_os_error(exc, f"renaming to {final}") from exc
        await read_whole(final, encrypted)
        size, digest = await _in_time(sha256_of, final, what=f"reading {final}")
        success = True
    finally:
        for leftover in (plain_partial, sealed_partial) + (() if success else (final,)):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    async with db.transaction() as session:
        row = await session.get(Backup, backup_id, with_for_update=True)
        assert row is not None
        now = utcnow()
        row.status, row.finished_at, row.progress = "succeeded", now, 1.0
        row.file_name, row.size_bytes, row.sha256 = name, size, digest
        row.row_counts, row.server_version = dumped.row_counts, dumped.server_version
        row.verified_at, row.verify_ok = now, True
        row.cancel_requested = False
        _emit(session, row, "updated")
    return f"backup #{backup_id}: {name}, {_mb(size)}, {len(dumped.row_counts)} tables, verified"


# --- test restore --------------------------------------------------------------------------------


async def test_restore(db: Database, backup_id: int) -> str:
    """Read the file back whole, load it into a scratch database, compare the row count of every
    table with those at dump time, drop the scratch database; the result kept on the row."""
    async with db.transaction() as session:
        row = await get(session, backup_id)
        if row.status != "succeeded" or row.removed_at is not None or not row.file_name or not row.folder:
            return f"backup #{backup_id} has no file to restore"
        path, encrypted = Path(row.folder) / row.file_name, row.encrypted
        expected: dict[str, int] = dict(row.row_counts or {})
        sha = row.sha256
    ok, verify_ok, detail = False, False, ""
    try:
        await read_whole(path, encrypted)
        verify_ok = True
        _, digest = await _in_time(sha256_of, path, what=f"reading {path}")
        if sha and digest != sha:
            raise BackupError("verify_failed", "the file changed since it was made (its SHA-256 differs)")
        ok, detail = await _restore_and_compare(Target.from_url(db.url), path, encrypted, expected)
    except BackupError as exc:
        detail = exc.message
    async with db.transaction() as session:
        row = await get(session, backup_id)
        now = utcnow()
        row.verified_at, row.verify_ok = now, verify_ok
        row.test_restored_at, row.test_restore_ok, row.test_restore_detail = now, ok, detail[:2000]
        _emit(session, row, "updated")
        if not ok:
            await alert(session, row, "Backup test restore failed")
    return detail


async def _restore_and_compare(
    target: Target, path: Path, encrypted: bool, expected: dict[str, int]
) -> tuple[bool, str]:
    scratch = f"crm_test_restore_{secrets.token_hex(4)}"
    admin = await _connect(target, autocommit=True)
    try:
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            into = Target.from_url(target.url_with_password(), dbname=scratch)
            # A plain file is loaded by several workers (tables and indexes side by side); an
            # encrypted one comes decrypted through standard input, which pg_restore reads alone.
            jobs = [] if encrypted else [f"--jobs={RESTORE_JOBS}"]
            warnings = await _pg_restore(
                ["--no-owner", "--no-privileges", *jobs, f"--dbname={into.conninfo}"], path, encrypted, env=into.env
            )
            conn = await _connect(into)
            try:
                restored = {f"{schema}.{name}": (schema, name) for schema, name in await _tables(conn)}
                found = await _count_rows(conn, [restored[t] for t in expected if t in restored])
                missing = sorted(set(expected) - set(restored))
                extra = sorted(set(restored) - set(expected))
            finally:
                await conn.close()
        finally:
            await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    except psycopg.Error as exc:
        return False, f"The test restore failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
    finally:
        await admin.close()
    differ = [
        f"{t}: {found[t]} rows, {n} at backup time" for t, n in sorted(expected.items()) if t in found and found[t] != n
    ]
    if missing or differ or extra:
        said = [*differ, *(f"{t} is missing" for t in missing), *(f"{t} was not in the backup" for t in extra)]
        return False, "Row counts differ: " + "; ".join(said)[:1500]
    total = sum(expected.values())
    note = " (pg_restore warned: " + warnings.strip().splitlines()[-1][:200] + ")" if warnings.strip() else ""
    return True, f"All {len(expected)} tables restored with the same row counts ({total:,} rows).{note}"


# --- retention -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    id: int
    started_at: datetime
    kind: str


def choose(items: list[Kept], now: datetime, daily: int, weekly: int, monthly: int) -> dict[int, datetime]:
    """Which verified backups to keep (id -> kept until, assuming a backup a day goes on): the
    newest of each of the newest `daily` days, `weekly` ISO weeks and `monthly` months. A safety
    backup (taken before a restore) is kept at least `daily` days."""
    ordered = sorted(items, key=lambda k: (k.started_at, k.id), reverse=True)
    kept: dict[int, datetime] = {}

    def keep(count: int, bucket: Any, length: timedelta) -> None:
        seen: list[Any] = []
        for item in ordered:
            key = bucket(item.started_at)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(key)
            until = item.started_at + length * count
            kept[item.id] = max(kept.get(item.id, until), until)

    keep(daily, lambda t: t.date(), timedelta(days=1))
    keep(weekly, lambda t: t.isocalendar()[:2], timedelta(weeks=1))
    keep(monthly, lambda t: (t.year, t.month), timedelta(days=31))
    for item in ordered:
        if item.kind == "safety" and item.started_at > now - timedelta(days=daily):
            kept.setdefault(item.id, item.started_at + timedelta(days=daily))
    return kept


async def apply_retention(db: Database, now: datetime, dry_run: bool = False) -> list[BackupOut]:
    """Remove the files retention no longer keeps (only files older than the newest verified
    backup); returns the backups removed (or that would be, `dry_run`)."""
    async with db.transaction() as session:
        daily = int(await settings.get(session, "backup.keep_daily"))
        weekly = int(await settings.get(session, "backup.keep_weekly"))
        monthly = int(await settings.get(session, "backup.keep_monthly"))
        rows = list(
            await session.scalars(
                select(Backup)
                .where(Backup.status == "succeeded", Backup.removed_at.is_(None), Backup.started_at <= now)
                .order_by(Backup.started_at.desc(), Backup.id.desc())
                .with_for_update()
            )
        )
        verified = [r for r in rows if r.verify_ok]
        if not verified:
            return []
        newest = verified[0]
        kept = choose([Kept(r.id, r.started_at, r.kind) for r in verified], now, daily, weekly, monthly)
        removed: list[Backup] = []
        for row in rows:
            if row.id in kept:
                if not dry_run:
                    row.kept_until = kept[row.id]
                continue
            if (row.started_at, row.id) >= (newest.started_at, newest.id):
                continue  # never a file newer than the newest verified one
            removed.append(row)
            if dry_run:
                continue
            if row.folder and row.file_name:
                try:
                    await _in_time((Path(row.folder) / row.file_name).unlink, True, what=f"the folder {row.folder}")
                except (OSError, BackupError) as exc:
                    log.warning("retention could not remove %s: %s", row.file_name, exc)
                    continue
            row.removed_at, row.kept_until = utcnow(), None
            _emit(session, row, "updated")
        return [to_out(r) for r in removed]


async def due_for_test_restore(session: AsyncSession, now: datetime) -> Backup | None:
    """The newest verified backup, when no test restore ran in the last 7 days."""
    recent = await session.scalar(select(Backup.id).where(Backup.test_restored_at > now - TEST_RESTORE_EVERY).limit(1))
    if recent is not None:
        return None
    return await session.scalar(
        select(Backup)
        .where(Backup.status == "succeeded", Backup.verify_ok.is_(True), Backup.removed_at.is_(None))
        .order_by(Backup.started_at.desc())
        .limit(1)
    )


async def nightly_due(session: AsyncSession, now_local: datetime, manual: bool) -> bool:
    """At the settings hour (server time), once a day, when backups are on; `manual`: at once."""
    if not await settings.get(session, "backup.enabled"):
        return False
    if manual:
        return True
    if now_local.hour != int(await settings.get(session, "backup.hour")):
        return False
    already = await session.scalar(
        select(Backup.id).where(Backup.kind == "nightly", Backup.started_at > utcnow() - timedelta(hours=20)).limit(1)
    )
    return already is None
