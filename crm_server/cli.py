"""crm-server: serve, migrate, create-admin, settings get|set (so IT can run a headless server)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from crm_server import __version__, migrate
from crm_server.config import Config, get_config
from crm_server.embedded_db import EmbeddedPostgres

log = logging.getLogger("crm_server")


def resolve_database(config: Config, *, auto_migrate: bool, adopt: bool = False) -> EmbeddedPostgres | None:
    """Fill in config.database_url; without CRM_DATABASE_URL use the embedded PostgreSQL.

    A command run beside a serving server uses the cluster that server runs and leaves it running;
    it starts (and on exit stops) the cluster only when none runs. `adopt` (serve) also takes over a
    cluster whose owner died. The embedded database is migrated automatically; a production database
    is migrated by IT with `crm-server migrate`, and serving refuses an outdated schema."""
    embedded = None
    if not config.database_url:
        embedded = EmbeddedPostgres(config.data_dir)
        config.database_url = embedded.start(adopt=adopt)
        auto_migrate = True
    try:
        if auto_migrate:
            migrate.upgrade(config.database_url)
        else:
            current, head = migrate.current_and_head(config.database_url)
            if current != head:
                raise SystemExit(
                    f"The database schema is at {current or 'nothing'}, this server needs {head}: "
                    "run `crm-server migrate` first."
                )
    except BaseException:
        if embedded:
            embedded.stop()
        raise
    return embedded


class StopSignals:
    """SIGTERM (what systemd's stop sends) and SIGINT (Ctrl+C) stop a serving process in order: the
    HTTP server shuts down, then the embedded cluster this process owns is stopped.

    uvicorn catches both while it serves and raises them again once it has shut down; with Python's
    default action that second delivery killed the process before it could stop its cluster, which
    then stayed running. Under this guard the signal only asks the server to exit. Use it from the
    main thread (elsewhere signals cannot be handled: the embedding program stops the server)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._server: Any = None
        self._before: dict[int, Any] = {}

    @property
    def server(self) -> Any:
        return self._server

    @server.setter
    def server(self, server: Any) -> None:  # a uvicorn.Server: told to exit if a signal came first
        self._server = server
        if self.received is not None and server is not None:
            server.should_exit = True

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            wanted = [signal.SIGINT, signal.SIGTERM]
            if hasattr(signal, "SIGBREAK"):  # Ctrl+Break in a Windows console
                wanted.append(signal.SIGBREAK)
            for sig in wanted:
                self._before[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)
        self._before.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is None:
            log.info("%s received: stopping", signal.Signals(signum).name)
        self.received = signum
        if self._server is not None:
            self._server.should_exit = True


def _run_in_db(config: Config, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from crm_server.db import Database

    async def main() -> Any:
        db = Database(config.async_url(), pool_size=2)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    import uvicorn

    from crm_server.app import create_app

    config.host, config.port = args.host or config.host, args.port or config.port
    with StopSignals() as stop:
        embedded = resolve_database(config, auto_migrate=args.migrate, adopt=True)
        try:
            if stop.received is None:
                stop.server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(config, embedded=embedded),
                        host=config.host,
                        port=config.port,
                        log_level=config.log_level,
                        proxy_headers=True,
                        forwarded_allow_ips=args.forwarded_allow_ips,
                        timeout_graceful_shutdown=5,
                    )
                )  # open WebSockets must not hold a stop for long
                stop.server.run()
        finally:
            if embedded:
                embedded.stop()
    return 0


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    embedded = resolve_database(config, auto_migrate=False) if not config.database_url else None
    assert config.database_url
    if args.revision.startswith("-") or args.downgrade:
        migrate.downgrade(config.database_url, args.revision if args.revision != "head" else "-1")
    else:
        migrate.upgrade(config.database_url, args.revision)
    print("schema at", migrate.current_and_head(config.database_url)[0])
    if embedded:
        embedded.stop()
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("The passwords differ.")
    return first


def cmd_create_admin(args: argparse.Namespace, config: Config) -> int:
    from crm_server.auth import users

    embedded = resolve_database(config, auto_migrate=False)
    password = _read_password(args)

    async def work(session: Any) -> int:
        user = await users.create_first_admin(session, args.email, args.name, password)
        return user.id

    try:
        user_id = _run_in_db(config, work)
    except Exception as exc:
        from crm_server.errors import AppError

        if isinstance(exc, AppError):
            raise SystemExit(f"{exc.field or 'error'}: {exc.message}") from None
        raise
    finally:
        if embedded:
            embedded.stop()
    print(f"admin user #{user_id} {args.email} created")
    return 0


def cmd_settings(args: argparse.Namespace, config: Config) -> int:
    from crm_server.admin import settings

    embedded = resolve_database(config, auto_migrate=False)

    async def work(session: Any) -> Any:
        if args.action == "get":
            if args.key:
                return {args.key: await settings.get(session, args.key)}
            return settings.public_view(await settings.get_all(session))
        if args.value is None:
            raise SystemExit("settings set needs KEY and VALUE")
        from crm_server.admin import audit

        old, new = await settings.put(session, args.key, args.value, None)
        audit.record(
            session,
            actor_id=None,
            entity="settings",
            entity_id=0,
            action="updated",
            changes=audit.diff({args.key: old}, {args.key: new}),
        )
        return {args.key: new if not settings.DEFINITIONS[args.key].secret else "(set)"}

    try:
        result = _run_in_db(config, work)
    except Exception as exc:
        from crm_server.errors import AppError

        if isinstance(exc, AppError):
            raise SystemExit(f"{exc.field or 'error'}: {exc.message}") from None
        raise
    finally:
        if embedded:
            embedded.stop()
    print(json.dumps(result, indent=2))
    return 0


# sysexits.h: what a mail server's pipe (Postfix, Exim) understands when it bounces a message.
EX_DATAERR, EX_NOPERM, EX_TEMPFAIL = 65, 77, 75


def cmd_pipe_email(args: argparse.Namespace, config: Config) -> int:
    """One raw message on standard input, through the same service as the webhook."""
    from crm_server.email_pipe import service

    raw = sys.stdin.buffer.read()
    embedded = resolve_database(config, auto_migrate=False)
    try:
        answer = _run_in_db(config, lambda session: service.receive(session, raw, source="cli"))
    except Exception:  # the database is down or broken: the mail server keeps the message and retries
        log.exception("pipe-email: the message could not be stored")
        return EX_TEMPFAIL
    finally:
        if embedded:
            embedded.stop()
    print(f"{answer.outcome}: {answer.message}" + (" (already received)" if answer.duplicate else ""))
    if answer.outcome in ("created", "appended"):
        return 0
    return {"malformed": EX_DATAERR, "rejected": EX_DATAERR, "failed": EX_TEMPFAIL}.get(answer.outcome, EX_NOPERM)


# What `crm-server restore` exits with (sysexits.h), for IT's scripts; the reason is one line on stderr.
RESTORE_EXIT = {
    "invalid": 64,  # EX_USAGE: a bad --into name
    "required": 64,  # in place without --confirm (and no terminal to ask on)
    "confirm_mismatch": 64,  # --confirm is not the company's name
    "not_a_backup": 65,  # EX_DATAERR: not a pg_dump archive (nor an encrypted one)
    "backup_unreadable": 65,  # damaged or truncated: pg_restore stopped
    "cannot_decrypt": 65,  # a wrong CRM_BACKUP_PASSPHRASE, or a damaged file
    "schema_not_upgradable": 65,  # made by a newer version of the CRM
    "file_missing": 66,  # EX_NOINPUT
    "tool_missing": 69,  # EX_UNAVAILABLE: no pg_restore (set CRM_PG_RESTORE)
    "version_mismatch": 69,  # pg_restore is not of the server's major version
    "database_exists": 73,  # EX_CANTCREAT: --into names an existing database
    "safety_backup_failed": 74,  # EX_IOERR: the safety backup failed, nothing restored
    "restore_running": 75,  # EX_TEMPFAIL: another restore (or backup) is running, try later
    "backup_running": 75,
    "database_unreachable": 75,
    "database_busy": 75,
    "passphrase_missing": 78,  # EX_CONFIG: the file is encrypted, CRM_BACKUP_PASSPHRASE is not set
}


def cmd_restore(args: argparse.Namespace, config: Config) -> int:
    """Restore FILE into a new database (--into NAME) or in place of the live one (--confirm the
    company's name; a safety backup is taken first and connected desktops are told)."""
    from pathlib import Path

    from crm_server.admin import settings
    from crm_server.backups import restore
    from crm_server.db import Database
    from crm_server.errors import AppError

    file = Path(args.file)
    if not file.is_file():
        print(f"crm-server restore: {file} does not exist or is not a file", file=sys.stderr)
        return RESTORE_EXIT["file_missing"]
    try:
        embedded = resolve_database(config, auto_migrate=False)
    except Exception as exc:  # the reason, in one line, is what IT needs
        print(f"crm-server restore: the database cannot be reached: {exc}".splitlines()[0], file=sys.stderr)
        return EX_TEMPFAIL

    typed = args.confirm
    if not args.into and typed is None and sys.stdin.isatty():
        typed = input("This replaces the live data. Type the company's name to go on: ")

    async def main() -> restore.Restored:
        db = Database(config.async_url(), pool_size=2)
        try:
            if args.into:
                return await restore.restore_new(db.url, file, args.into)
            async with db.transaction() as session:
                company = str(await settings.get(session, "company.name") or "")
            restore.confirms_company(typed, company)
            return await restore.restore_in_place(
                db.url, file, db, safety=lambda: restore.take_safety_backup(db, None), source=file.name
            )
        finally:
            await db.dispose()

    try:
        done = asyncio.run(main())
    except AppError as exc:
        print(f"crm-server restore: {exc.message}".splitlines()[0], file=sys.stderr)
        return RESTORE_EXIT.get(exc.code, 1)
    except Exception as exc:
        log.debug("restore failed", exc_info=True)
        print(f"crm-server restore: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    finally:
        if embedded:
            embedded.stop()
    if done.mode == "new":
        print(f"restored {file.name} into the new database {done.database}: {done.tables} tables, {done.rows} rows")
    else:
        print(
            f"restored {file.name} in place of {done.database}: {done.tables} tables, {done.rows} rows; "
            f"safety backup #{done.safety_backup_id}; live events continue at {done.event_seq}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-server", description="The CRM's shared server.")
    parser.add_argument("--version", action="version", version=f"crm-server {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API, live events and the job worker")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8400)")
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema before serving")
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-For is trusted (the TLS reverse proxy)",
    )
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="upgrade the database schema (or --downgrade one step)")
    mig.add_argument("revision", nargs="?", default="head")
    mig.add_argument("--downgrade", action="store_true", help="go back one revision (or to REVISION)")
    mig.set_defaults(func=cmd_migrate)

    admin = sub.add_parser("create-admin", help="create an admin user")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.set_defaults(func=cmd_create_admin)

    st = sub.add_parser("settings", help="read or change a setting")
    st.add_argument("action", choices=["get", "set"])
    st.add_argument("key", nargs="?")
    st.add_argument("value", nargs="?")
    st.set_defaults(func=cmd_settings)

    rs = sub.add_parser(
        "restore",
        help="restore a backup file into a new database (--into NAME) or in place of the live one",
        description="Exit codes: 0 restored; 64 bad name or confirmation; 65 not a backup / damaged / cannot "
        "decrypt; 66 no such file; 69 no suitable pg_restore; 73 the database exists; 74 the safety backup "
        "failed; 75 busy or unreachable, try later; 78 CRM_BACKUP_PASSPHRASE missing; 1 anything else.",
    )
    rs.add_argument("file", help="a backup file (.dump, or .dump.age when encrypted)")
    rs.add_argument("--into", metavar="NAME", help="restore into a new database NAME (the live data stay as they are)")
    rs.add_argument("--confirm", metavar="COMPANY", help="in place: the company's name (asked for when omitted)")
    rs.set_defaults(func=cmd_restore)

    pipe = sub.add_parser("pipe-email", help="take one email on standard input (a mail server's pipe)")
    pipe.set_defaults(func=cmd_pipe_email)

    from crm_server.backups.cli import add_commands as add_backup_commands

    add_backup_commands(sub)  # backup, backups list|test-restore|prune
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = get_config()
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.func is not cmd_serve and threading.current_thread() is threading.main_thread():
        # A short command stopped by SIGTERM still runs its clean-up (a cluster it started is stopped);
        # a mail server's pipe gets "try again later".
        code = EX_TEMPFAIL if args.func is cmd_pipe_email else 128 + signal.SIGTERM

        def _exit(signum: int, frame: object) -> None:
            raise SystemExit(code)

        signal.signal(signal.SIGTERM, _exit)
    return int(args.func(args, config))


if __name__ == "__main__":
    sys.exit(main())
