"""`crm-server backup [--to DIR]` and `crm-server backups list|test-restore|prune`, for IT's scripts.

Exit codes (sysexits.h): 0 done; 69 pg_dump version mismatch or a tool missing; 73 permission
denied (the folder); 74 insufficient storage, or the file could not be read back; 75 connection
timed out, or a backup is already running (try later); 1 anything else; 130 cancelled. The
reason is one line on standard error."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from crm_server.config import Config

EXIT = {
    "version_mismatch": 69,
    "permission_denied": 73,
    "insufficient_storage": 74,
    "verify_failed": 74,
    "connection_timed_out": 75,
    "backup_running": 75,
    "cancelled": 130,
}


def add_commands(sub: Any) -> None:
    """Add `backup` and `backups` to crm-server's sub-commands."""
    backup = sub.add_parser("backup", help="back up the database now (verified), into the backup folder or --to DIR")
    backup.add_argument("--to", metavar="DIR", default=None, help="write the file here instead of the backup folder")
    backup.set_defaults(func=cmd_backup)

    backups = sub.add_parser("backups", help="list backups, test-restore one, or apply retention")
    what = backups.add_subparsers(dest="backups_command", required=True)
    listing = what.add_parser("list", help="the backups, newest first")
    listing.add_argument("--json", action="store_true", help="as JSON (one object per backup)")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_backups_list)
    test = what.add_parser("test-restore", help="restore a backup into a scratch database and compare row counts")
    test.add_argument("id", type=int, help="the backup's number (see `backups list`)")
    test.set_defaults(func=cmd_backups_test_restore)
    prune = what.add_parser("prune", help="remove the files retention no longer keeps")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.add_argument(
        "--as-of", default=None, metavar="DATE", help="apply the rules as on this date/time (ISO 8601, UTC)"
    )
    prune.set_defaults(func=cmd_backups_prune)


def _fail(command: str, message: str, code: int) -> int:
    print(f"crm-server {command}: {message}".splitlines()[0], file=sys.stderr)
    return code


def _with_db(config: Config, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(db)` against the server's database (the embedded one started if need be)."""
    from crm_server.cli import resolve_database
    from crm_server.db import Database

    embedded = resolve_database(config, auto_migrate=False)

    async def main() -> Any:
        db = Database(config.async_url(), pool_size=2)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    finally:
        if embedded:
            embedded.stop()


def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    from crm_server.backups import service
    from crm_server.backups.models import Backup
    from crm_server.errors import AppError

    # The reason goes to stderr once, as the last line (the server's own log line is for servers).
    logging.getLogger(service.__name__).setLevel(logging.ERROR)

    async def work(db: Any) -> tuple[int, str]:
        try:
            async with db.transaction() as session:
                row = await service.start(session, "manual", None, folder=args.to, queue_job=False)
                backup_id = row.id
        except AppError as exc:
            return EXIT.get(exc.code, 1), exc.message
        try:
            await service.run(db, backup_id)
        except (KeyboardInterrupt, asyncio.CancelledError):
            return EXIT["cancelled"], "cancelled"
        async with db.transaction() as session:
            done = await session.get(Backup, backup_id)
            assert done is not None
            if done.status == "succeeded":
                return 0, f"{done.folder}/{done.file_name} ({done.size_bytes} bytes, sha256 {done.sha256}, verified)"
            return EXIT.get(done.error_code or "", 1), done.error_message or done.status

    try:
        code, said = _with_db(config, work)
    except KeyboardInterrupt:
        return _fail("backup", "cancelled", EXIT["cancelled"])
    if code:
        return _fail("backup", said, code)
    print(said)
    return 0


def cmd_backups_list(args: argparse.Namespace, config: Config) -> int:
    from crm_server.backups import service

    async def work(db: Any) -> list[Any]:
        async with db.transaction() as session:
            return list((await service.list_page(session, 0, max(1, min(args.limit, 500)))).items)

    items = _with_db(config, work)
    if args.json:
        for item in items:
            print(item.model_dump_json())
        return 0
    if not items:
        print("No backups yet.")
        return 0
    for b in items:
        size = f"{b.size_bytes / 1_000_000:.1f} MB" if b.size_bytes else "-"
        checks = "verified" if b.verify_ok else ("NOT verified" if b.verify_ok is False else "")
        if b.test_restored_at:
            checks += ", test restore " + ("ok" if b.test_restore_ok else "FAILED")
        where = "(removed)" if b.removed else (f"{b.folder}/{b.file_name}" if b.file_name else b.error_message or "")
        print(f"#{b.id}\t{b.started_at:%Y-%m-%d %H:%M}Z\t{b.kind}\t{b.status}\t{size}\t{checks}\t{where}")
    return 0


def cmd_backups_test_restore(args: argparse.Namespace, config: Config) -> int:
    from crm_server.backups import service
    from crm_server.backups.models import Backup
    from crm_server.errors import AppError

    async def work(db: Any) -> tuple[bool | None, str]:
        try:
            said = await service.test_restore(db, args.id)
        except AppError as exc:
            return None, exc.message
        async with db.transaction() as session:
            row = await session.get(Backup, args.id)
            return (row.test_restore_ok if row is not None else None), said

    ok, said = _with_db(config, work)
    if not ok:
        return _fail("backups test-restore", said or f"backup #{args.id} not found", 1)
    print(said)
    return 0


def cmd_backups_prune(args: argparse.Namespace, config: Config) -> int:
    from crm_server.backups import service

    try:
        now = datetime.fromisoformat(args.as_of) if args.as_of else datetime.now(UTC)
    except ValueError:
        return _fail("backups prune", f"--as-of {args.as_of!r} is not an ISO 8601 date", 64)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    removed = _with_db(config, lambda db: service.apply_retention(db, now, dry_run=args.dry_run))
    verb = "would remove" if args.dry_run else "removed"
    print(json.dumps({verb: [b.file_name for b in removed]}))
    return 0
