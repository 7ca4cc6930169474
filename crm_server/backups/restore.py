"""Restore a backup (issue #21): into a new database to look at, or in place of the live one.

The file is checked before anything changes: a pg_dump custom-format archive (age-encrypted ones
are decrypted with CRM_BACKUP_PASSPHRASE first) whose table of contents pg_restore can read.

In place, in this order:
 1. a safety backup of the live database (the caller's `safety` step);
 2. every connected desktop hears a live event `server.restoring` (module "server");
 3. the file is restored into a scratch database beside the live one, which stays untouched;
 4. the live database is frozen (no new connections, every other one ended) and what has happened
    on it since the backup is carried into the restored one:
    - the live-event sequence continues above the highest number any desktop can have seen, and a
      `server.restored` event is written there: desktops are told to reload, never to resume
      (no event of the live database is replayed into the restored data);
    - a job still queued or running in the backup that has finished since on the live database
      keeps the live status (workers take only "todo" jobs: it does not run twice); one that was
      running in the backup and has not finished is queued again (it runs once, on the restored
      data); job and worker id sequences and the periodic runs already deferred are carried over;
    - the list of backups (the safety backup included) and the sign-ins are the live ones: a
      session ended since the backup stays ended, one begun since goes on if its user exists;
 5. swap: the live database is renamed away and the restored one renamed in; the previous one is
    dropped only once the swap has succeeded. On a failure before that, the live database is
    opened again as it was and desktops hear `server.restore_failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from crm_server import events
from crm_server.backups import tools
from crm_server.config import to_libpq_url
from crm_server.contract.events import SERVER_MODULE
from crm_server.db import Database
from crm_server.errors import AppError, Conflict, NotFound, ValidationFailed

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "CRM_BACKUP_PASSPHRASE"
DUMP_MAGIC = b"PGDMP"
AGE_MAGICS = (b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE-----")
# Session advisory lock (on the maintenance database): one restore at a time, whatever process.
_RESTORE_LOCK = 0x43524D52  # "CRMR"
DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
FINISHED = ("succeeded", "failed", "cancelled", "aborted")
# How far back periodic runs already deferred on the live database are carried over.
PERIODIC_WINDOW_SECONDS = 24 * 3600


# -- errors (each with a stable code; crm_server.cli turns the codes into exit codes) ----------------


class NotABackup(ValidationFailed):
    code = "not_a_backup"


class BackupUnreadable(ValidationFailed):
    code = "backup_unreadable"


class RestoreBlocked(Conflict):
    """Something outside the file stops the restore (the tool, the passphrase, a name taken...)."""

    code = "restore_blocked"


class RestoreFailed(Conflict):
    """The swap could not be made; the live database was opened again as it was."""

    code = "restore_failed"


# -- results ------------------------------------------------------------------------------------------


@dataclass
class Restored:
    mode: str  # "new" or "in_place"
    database: str
    started_at: datetime
    finished_at: datetime | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    safety_backup_id: int | None = None
    event_seq: int | None = None  # in place: the sequence number of the `server.restored` event
    jobs_kept_finished: int = 0  # queued in the backup, finished since: not run again
    jobs_requeued: int = 0  # running in the backup, not finished since: queued again

    @property
    def tables(self) -> int:
        return len(self.row_counts)

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


# -- the file -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def readable_dump(file: Path) -> Iterator[Path]:
    """The plain pg_dump archive of `file` (decrypted into a private temporary folder if it is
    age-encrypted, removed afterwards), once pg_restore can read its table of contents."""
    try:
        with file.open("rb") as handle:
            head = handle.read(64)
    except FileNotFoundError:
        raise NotFound(f"The backup file {file} does not exist.", field="file", code="file_missing") from None
    except IsADirectoryError:
        raise NotABackup(f"{file} is a folder, not a backup file.", field="file") from None
    except OSError as exc:
        raise RestoreBlocked(f"The backup file cannot be read: {exc.strerror or exc}.", field="file") from exc
    if head.startswith(DUMP_MAGIC):
        _check_contents(file)
        with _held(file) as held:
            yield held
        return
    if not head.startswith(AGE_MAGICS):
        raise NotABackup(
            "This file is not a backup of this CRM (not a pg_dump archive, nor an encrypted one).", field="file"
        )
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise RestoreBlocked(
            f"This backup is encrypted: set {PASSPHRASE_ENV} to its passphrase on the server.",
            field="file",
            code="passphrase_missing",
        )
    import pyrage  # type: ignore[import-untyped]

    folder = Path(tempfile.mkdtemp(prefix="crm-restore-"))
    try:
        folder.chmod(0o700)
        try:
            plain = pyrage.passphrase.decrypt(file.read_bytes(), passphrase)
        except pyrage.DecryptError as exc:
            raise BackupUnreadable(
                f"The backup could not be decrypted (a wrong {PASSPHRASE_ENV}, or a damaged file): {exc}.",
                field="file",
                code="cannot_decrypt",
            ) from exc
        if not plain.startswith(DUMP_MAGIC):
            raise NotABackup("The decrypted file is not a pg_dump archive.", field="file")
        decrypted = folder / "backup.dump"
        with decrypted.open("wb") as out:
            out.write(plain)
        del plain
        _check_contents(decrypted)
        yield decrypted
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _held(file: Path) -> Iterator[Path]:
    """The file under a second name of our own while we restore it: the safety backup's retention
    may remove the original (a newer verified backup of the same day now exists). A hard link
    beside it costs nothing; where the folder cannot have one (some shares), a private copy."""
    link = file.parent / f".{file.name}.restoring-{secrets.token_hex(4)}"
    try:
        os.link(file, link)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="crm-restore-"))
        try:
            copy = folder / file.name
            shutil.copyfile(file, copy)
            yield copy
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        yield link
    finally:
        link.unlink(missing_ok=True)


def _pg_restore() -> str:
    try:
        return tools.binary("pg_restore")
    except tools.BackupError as exc:
        raise RestoreBlocked(exc.detail or str(exc), code="tool_missing") from exc


def _check_contents(file: Path) -> None:
    done = _run([_pg_restore(), "--list", str(file)], env=None)
    if done.returncode != 0:
        raise NotABackup(f"This file is not a readable backup: {_last_words(done.stderr)}", field="file")


def _read_whole(tool: str, file: Path) -> None:
    """Read every byte of the archive (restored to nothing): a truncated file passes `--list` but
    fails here, before an in-place restore has taken a safety backup or told anyone."""
    done = _run([tool, "--file", os.devnull, str(file)], env=None)
    if done.returncode != 0:
        raise BackupUnreadable(f"The backup file is damaged or incomplete: {_last_words(done.stderr)}", field="file")


def _run(args: list[str], env: dict[str, str] | None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise RestoreBlocked(f"{args[0]} could not be run: {exc.strerror or exc}.", code="tool_missing") from exc


def _last_words(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return "; ".join(lines[-3:])[:500] or "pg_restore stopped without saying why"


# -- the databases ------------------------------------------------------------------------------------


def _params(url: str) -> dict[str, Any]:
    return {k: v for k, v in conninfo_to_dict(to_libpq_url(url)).items() if v is not None}


def _conninfo(url: str, dbname: str) -> str:
    return make_conninfo(**{**_params(url), "dbname": dbname, "connect_timeout": str(tools.CONNECT_TIMEOUT)})


def live_name(url: str) -> str:
    return str(_params(url).get("dbname") or _params(url).get("user") or "")


@contextlib.asynccontextmanager
async def _maintenance(url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to the cluster's maintenance database (postgres, else template1)."""
    error: Exception | None = None
    for name in ("postgres", "template1"):
        try:
            conn = await psycopg.AsyncConnection.connect(_conninfo(url, name), autocommit=True)
        except psycopg.OperationalError as exc:
            error = exc
            continue
        async with conn:
            yield conn
        return
    raise RestoreBlocked(f"The database server cannot be reached: {error}.", code="database_unreachable")


async def _check_tool_version(conn: psycopg.AsyncConnection[Any]) -> str:
    row = await (await conn.execute("SELECT current_setting('server_version_num')::int, version()")).fetchone()
    assert row is not None
    try:
        return await asyncio.to_thread(tools.check_version, "pg_restore", int(row[0]), str(row[1]).split(" on ")[0])
    except tools.BackupError as exc:
        raise RestoreBlocked(exc.detail or str(exc), code="version_mismatch") from exc


async def _exists(conn: psycopg.AsyncConnection[Any], name: str) -> bool:
    row = await (await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))).fetchone()
    return row is not None


async def _restore_into(url: str, conn: psycopg.AsyncConnection[Any], tool: str, dump: Path, name: str) -> None:
    """CREATE DATABASE `name` (from template0, as pg_dump archives expect) and pg_restore into it;
    on failure the half-made database is dropped."""
    try:
        await conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        raise RestoreBlocked(
            f"A database named {name} already exists; choose another name.", field="database", code="database_exists"
        ) from None
    target = tools.Target.from_url(url, name)
    args = [tool, "--no-owner", "--no-acl", "--exit-on-error", "--jobs", "2", "--dbname", target.conninfo, str(dump)]
    done = await asyncio.to_thread(_run, args, target.env)
    if done.returncode != 0:
        await _drop(conn, name)
        raise BackupUnreadable(f"The backup could not be restored: {_last_words(done.stderr)}", field="file")


def url_of(url: str, name: str) -> str:
    """The URL of database `name` on the server (and with the credentials) of `url`."""
    parts = urlsplit(to_libpq_url(url))
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _upgrade_schema(url: str, conn: psycopg.AsyncConnection[Any], name: str) -> None:
    """A backup made by an older version of the CRM gets this version's schema before it goes live
    (the server refuses to serve an outdated one)."""
    from crm_server import migrate

    try:
        await asyncio.to_thread(migrate.upgrade, url_of(url, name))
    except Exception as exc:
        await _drop(conn, name)
        raise RestoreBlocked(
            f"The restored data could not be brought to this version's database schema: {exc}",
            field="file",
            code="schema_not_upgradable",
        ) from exc


async def _drop(conn: psycopg.AsyncConnection[Any], name: str) -> None:
    with contextlib.suppress(psycopg.Error):
        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def row_counts(url: str, name: str) -> dict[str, int]:
    """Rows of every table of database `name`, as "schema.table" (the shape a backup records)."""
    async with await psycopg.AsyncConnection.connect(_conninfo(url, name), autocommit=True) as conn:
        tables = await (
            await conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
            )
        ).fetchall()
        counts: dict[str, int] = {}
        for schema, table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            row = await (await conn.execute(query)).fetchone()
            counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        return counts


@contextlib.asynccontextmanager
async def _one_at_a_time(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[None]:
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (_RESTORE_LOCK,))).fetchone()
    if not row or not row[0]:
        raise RestoreBlocked("Another restore is running; try again when it has finished.", code="restore_running")
    try:
        yield
    finally:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_RESTORE_LOCK,))


# -- into a new database ------------------------------------------------------------------------------


def check_new_name(url: str, name: str | None) -> str:
    if not name:
        raise ValidationFailed("Name the new database to restore into.", field="database", code="required")
    if not DATABASE_NAME.match(name):
        raise ValidationFailed(
            "A database name is up to 63 lower-case letters, digits and underscores, not starting with a digit.",
            field="database",
        )
    if name == live_name(url) or name in ("postgres", "template0", "template1"):
        raise RestoreBlocked(f"The database {name} is in use; choose another name.", field="database")
    return name


@contextlib.contextmanager
def _in_words() -> Iterator[None]:
    """A database error the steps above did not name still answers in words (never a 500)."""
    try:
        yield
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RestoreFailed(f"The restore failed: {first}") from exc


async def restore_new(url: str, file: Path, name: str) -> Restored:
    """Restore `file` into a new database `name` on the same server, to look at; the live data is
    not touched. `url`: the live database's URL (the server and credentials to use)."""
    with _in_words():
        return await _restore_new(url, file, name)


async def _restore_new(url: str, file: Path, name: str) -> Restored:
    name = check_new_name(url, name)
    result = Restored("new", name, datetime.now(UTC))
    async with _maintenance(url) as conn:
        tool = await _check_tool_version(conn)
        if await _exists(conn, name):
            raise RestoreBlocked(
                f"A database named {name} already exists; choose another name.",
                field="database",
                code="database_exists",
            )
        with readable_dump(file) as dump:
            await _restore_into(url, conn, tool, dump, name)
    result.row_counts = await row_counts(url, name)
    result.finished_at = datetime.now(UTC)
    log.info("backup %s restored into the new database %s (%d rows)", file, name, result.rows)
    return result


# -- in place -----------------------------------------------------------------------------------------

SafetyStep = Callable[[], Awaitable[int | None]]
Hook = Callable[[], Awaitable[None]]


async def _announce(db: Database, action: str, data: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # a notice must not stop (or hide the cause of) a restore
        async with db.transaction() as session:
            events.emit(session, module=SERVER_MODULE, entity="server", entity_id=0, action=action, data=data)


async def restore_in_place(
    url: str,
    file: Path,
    db: Database,
    *,
    safety: SafetyStep | None = None,
    before_swap: Hook | None = None,
    after_swap: Hook | None = None,
    source: str = "",
) -> Restored:
    """Replace the live database (the one `url` names) by the backup in `file`, keeping the
    live-event sequence and the job queue consistent (see the module's docstring).

    `db`: the server's (or the command's) engine on the live database: live events are written
    through it and its pool is emptied before the swap. `safety`: takes the safety backup and
    returns its id. `before_swap` / `after_swap`: stop and start what holds the database open in
    this process (the job worker)."""
    with _in_words():
        return await _restore_in_place(url, file, db, safety, before_swap, after_swap, source)


async def _restore_in_place(
    url: str,
    file: Path,
    db: Database,
    safety: SafetyStep | None,
    before_swap: Hook | None,
    after_swap: Hook | None,
    source: str,
) -> Restored:
    live = live_name(url)
    result = Restored("in_place", live, datetime.now(UTC))
    started = time.perf_counter()
    async with _maintenance(url) as conn, _one_at_a_time(conn):
        tool = await _check_tool_version(conn)
        with readable_dump(file) as dump:  # refused here, before anything happens, if not a backup
            await asyncio.to_thread(_read_whole, tool, dump)  # a truncated file, too
            if safety is not None:
                result.safety_backup_id = await safety()
            await _announce(db, "restoring", {"source": source, "safety_backup_id": result.safety_backup_id})
            scratch = f"{live[:40]}_restoring_{secrets.token_hex(4)}"
            try:
                await _restore_into(url, conn, tool, dump, scratch)
                result.row_counts = await row_counts(url, scratch)
                await _upgrade_schema(url, conn, scratch)
            except BaseException:
                await _announce(db, "restore_failed", {"source": source})
                raise
        try:
            if before_swap is not None:
                await before_swap()
            await _freeze_carry_and_swap(url, conn, db, live, scratch, result, source)
        except BaseException as exc:
            await _drop(conn, scratch)
            await _announce(db, "restore_failed", {"source": source})
            if isinstance(exc, AppError):
                raise
            raise RestoreFailed(f"The restore failed and the live data was kept: {exc}") from exc
        finally:
            if after_swap is not None:
                with contextlib.suppress(Exception):
                    await after_swap()
    result.finished_at = datetime.now(UTC)
    log.warning(
        "backup %s restored in place of %s in %.1f s (event sequence now %s, %d finished jobs kept, %d queued again)",
        file,
        live,
        time.perf_counter() - started,
        result.event_seq,
        result.jobs_kept_finished,
        result.jobs_requeued,
    )
    return result


async def _freeze_carry_and_swap(
    url: str,
    conn: psycopg.AsyncConnection[Any],
    db: Database,
    live: str,
    scratch: str,
    result: Restored,
    source: str,
) -> None:
    live_id, scratch_id = sql.Identifier(live), sql.Identifier(scratch)
    frozen = False
    renamed_away: str | None = None
    try:
        async with await psycopg.AsyncConnection.connect(_conninfo(url, live), autocommit=True) as old:
            # Kept open (a database cannot refuse connections to itself): ours is the one left.
            await conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(live_id))
            frozen = True
            await _end_other_connections(conn, live, old.info.backend_pid)
            async with await psycopg.AsyncConnection.connect(_conninfo(url, scratch), autocommit=True) as new:
                await _carry_over(old, new, result, source)
        await db.dispose()  # the server's pooled connections to the live database were ended
        renamed_away = f"{live[:40]}_before_restore_{secrets.token_hex(4)}"
        await _retry_busy(
            lambda: conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(live_id, sql.Identifier(renamed_away or ""))
            )
        )
        await conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(scratch_id, live_id))
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            if renamed_away is not None and not await _exists(conn, live):
                await conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(renamed_away), live_id)
                )
            if frozen:
                await conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(live_id))
        raise
    # The swap succeeded: the previous database is no longer needed.
    await _drop(conn, renamed_away)
    # Wake every server's event hub (their listening connections were ended and come back).
    async with await psycopg.AsyncConnection.connect(_conninfo(url, live), autocommit=True) as now:
        await now.execute("SELECT pg_notify(%s, %s)", (events.CHANNEL, str(result.event_seq)))


async def _retry_busy(step: Callable[[], Awaitable[object]], attempts: int = 50) -> None:
    """A connection ended a moment ago may still be leaving: "is being accessed by other users"."""
    for attempt in range(attempts):
        try:
            await step()
            return
        except psycopg.errors.ObjectInUse:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1)


async def _end_other_connections(conn: psycopg.AsyncConnection[Any], database: str, keep: int) -> None:
    """End every connection to `database` but ours (`keep`): server pools, event listeners, job
    workers, in whatever process; none can come back while the database refuses connections."""
    for _ in range(50):
        rows = await (
            await conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> %s AND pid <> pg_backend_pid()",
                (database, keep),
            )
        ).fetchall()
        if not rows:
            return
        await asyncio.sleep(0.05)
    raise RestoreBlocked("Other connections to the live database could not be ended.", code="database_busy")


async def _value(conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...] = ()) -> int:
    row = await (await conn.execute(query, params)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


_SEQ_HIGH = (
    "SELECT greatest(coalesce((SELECT max({col}) FROM {table}), 0),"
    " coalesce(pg_sequence_last_value(pg_get_serial_sequence('{table}', '{col}')::regclass), 0))"
)


async def _carry_over(
    old: psycopg.AsyncConnection[Any], new: psycopg.AsyncConnection[Any], result: Restored, source: str
) -> None:
    """What must not go back in time when the live database (`old`, frozen) is replaced by the
    restored one (`new`): the list of backups, the sign-ins, the event sequence, the finished
    jobs, the id sequences."""
    await _carry_backups(old, new)
    await _carry_sessions(old, new)
    # Events: continue above anything the live database ever numbered, and tell desktops to reload.
    live_seq = await _value(old, _SEQ_HIGH.format(table="events", col="seq"))
    restored_seq = await _value(new, _SEQ_HIGH.format(table="events", col="seq"))
    await new.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), %s)", (max(live_seq, restored_seq, 1),))
    # Jobs: what was queued or running in the backup and has finished since keeps its live status.
    pending = await (
        await new.execute("SELECT id, task_name, status FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
    ).fetchall()
    live_jobs_high = await _value(old, _SEQ_HIGH.format(table="procrastinate_jobs", col="id"))
    live_status: dict[int, tuple[str, str]] = {}
    if pending:
        rows = await (
            await old.execute(
                "SELECT id, task_name, status::text FROM procrastinate_jobs WHERE id = ANY(%s)",
                ([row[0] for row in pending],),
            )
        ).fetchall()
        live_status = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
    for job_id, task_name, status in pending:
        seen = live_status.get(int(job_id))
        if seen is not None and seen[0] == task_name and seen[1] in FINISHED:
            final = seen[1]
        elif seen is None and job_id <= live_jobs_high:
            final = "cancelled"  # finished and cleared away on the live database since
        elif status == "doing":
            final = "todo"  # its run was cut off with the live database: run it once, on these data
        else:
            continue
        if final == "todo":
            requeued = await new.execute(
                "UPDATE procrastinate_jobs j SET status = 'todo', worker_id = NULL WHERE j.id = %s AND NOT EXISTS ("
                " SELECT 1 FROM procrastinate_jobs o WHERE o.status = 'todo' AND o.queueing_lock = j.queueing_lock)",
                (job_id,),
            )
            if requeued.rowcount:
                result.jobs_requeued += 1
                continue
            final = "cancelled"  # the same work is queued already
        else:
            result.jobs_kept_finished += 1
        await new.execute(
            "UPDATE procrastinate_jobs SET status = %s::procrastinate_job_status, worker_id = NULL,"
            " abort_requested = false WHERE id = %s",
            (final, job_id),
        )
    restored_jobs_high = await _value(new, _SEQ_HIGH.format(table="procrastinate_jobs", col="id"))
    await new.execute(
        "SELECT setval(pg_get_serial_sequence('procrastinate_jobs', 'id'), %s)",
        (max(live_jobs_high, restored_jobs_high, 1),),
    )
    # Periodic runs already deferred on the live database are not deferred again.
    periodic = await (
        await old.execute(
            "SELECT task_name, periodic_id, defer_timestamp FROM procrastinate_periodic_defers"
            " WHERE defer_timestamp > extract(epoch FROM now())::bigint - %s",
            (PERIODIC_WINDOW_SECONDS,),
        )
    ).fetchall()
    async with new.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp) VALUES (%s, %s, %s)"
            " ON CONFLICT ON CONSTRAINT procrastinate_periodic_defers_unique DO NOTHING",
            periodic,
        )
    # The workers running now (in every server process) stay known, and new ones get new ids.
    workers = await (await old.execute("SELECT id, last_heartbeat FROM procrastinate_workers")).fetchall()
    async with new.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO procrastinate_workers (id, last_heartbeat) OVERRIDING SYSTEM VALUE VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET last_heartbeat = excluded.last_heartbeat",
            workers,
        )
    workers_high = max(
        await _value(old, _SEQ_HIGH.format(table="procrastinate_workers", col="id")),
        await _value(new, _SEQ_HIGH.format(table="procrastinate_workers", col="id")),
        1,
    )
    await new.execute("SELECT setval(pg_get_serial_sequence('procrastinate_workers', 'id'), %s)", (workers_high,))
    # The notice desktops reload on: numbered above every event they can have seen.
    row = await (
        await new.execute(
            "INSERT INTO events (module, entity, entity_id, action, data) VALUES (%s, 'server', 0, 'restored', %s)"
            " RETURNING seq",
            (SERVER_MODULE, psycopg.types.json.Jsonb({"source": source, "previous_seq": live_seq})),
        )
    ).fetchone()
    result.event_seq = int(row[0]) if row else None


async def _carry_backups(old: psycopg.AsyncConnection[Any], new: psycopg.AsyncConnection[Any]) -> None:
    """The list of backups is the live one (the restored copy is as it was at dump time): the
    safety backup just taken, and every file made since, stay listed and restorable."""
    await _carry_table(
        old, new, "backups", "UPDATE carried SET requested_by = NULL WHERE requested_by NOT IN (SELECT id FROM users)"
    )


async def _carry_sessions(old: psycopg.AsyncConnection[Any], new: psycopg.AsyncConnection[Any]) -> None:
    """Sign-ins are the present's, not the backup's: a session ended since the backup (signed out,
    revoked after a theft) stays ended, and one begun since goes on (desktops reconnect without
    signing in again) as long as its user exists in the restored data."""
    await _carry_table(old, new, "auth_sessions", "DELETE FROM carried WHERE user_id NOT IN (SELECT id FROM users)")


async def _carry_table(
    old: psycopg.AsyncConnection[Any], new: psycopg.AsyncConnection[Any], table: str, fix: str
) -> None:
    """Replace the rows of `table` in the restored database by the live ones (`fix` then adapts
    them, as the temporary table `carried`, to the restored data), and its id sequence."""
    exists = "SELECT count(*) FROM pg_class WHERE oid = to_regclass(%s)"
    if not await _value(old, exists, (table,)) or not await _value(new, exists, (table,)):
        return
    name = sql.Identifier(table)
    await new.execute(sql.SQL("CREATE TEMP TABLE carried (LIKE {})").format(name))
    async with (
        old.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(name)) as source,
        new.cursor().copy("COPY carried FROM STDIN (FORMAT BINARY)") as target,
    ):
        async for chunk in source:
            await target.write(chunk)
    await new.execute(fix)
    await new.execute(sql.SQL("DELETE FROM {}").format(name))
    await new.execute(sql.SQL("INSERT INTO {} SELECT * FROM carried").format(name))
    await new.execute("DROP TABLE carried")
    high = max(await _value(old, _SEQ_HIGH.format(table=table, col="id")), 1)
    await new.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, high))


async def take_safety_backup(db: Database, actor_id: int | None) -> int:
    """The backup of the live data an in-place restore takes first (kind "safety"), made now and
    verified; the restore stops if it fails."""
    from crm_server.backups import service
    from crm_server.backups.models import Backup

    async with db.transaction() as session:
        row = await service.start(session, "safety", actor_id, queue_job=False)
        backup_id = row.id
    await service.run(db, backup_id)
    async with db.transaction() as session:
        made = await session.get(Backup, backup_id)
        if made is None or made.status != "succeeded":
            said = (made.error_message if made is not None else None) or "it did not finish"
            raise RestoreBlocked(
                f"The safety backup of the live data failed, so nothing was restored: {said}",
                code="safety_backup_failed",
            )
    return backup_id


def counts_match(recorded: dict[str, Any] | None, restored: dict[str, int]) -> bool | None:
    """Whether every table the backup counted at dump time has as many rows after the restore."""
    if not recorded:
        return None
    return all(restored.get(table) == int(count) for table, count in recorded.items())


def confirms_company(typed: str | None, company: str) -> None:
    """An in-place restore needs the company's name typed (spaces and case aside)."""
    if not typed or not typed.strip():
        raise ValidationFailed(
            "Type the company's name to restore in place of the live data.", field="confirm", code="required"
        )
    if " ".join(typed.split()).casefold() != " ".join(company.split()).casefold():
        raise ValidationFailed(
            "That is not the company's name: the live data were not touched.", field="confirm", code="confirm_mismatch"
        )
