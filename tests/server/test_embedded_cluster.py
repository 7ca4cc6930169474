"""The embedded PostgreSQL's life beside a real `crm-server serve` process (no CRM_DATABASE_URL):
commands run next to it leave it serving, /health reports a lost database and the server recovers by
itself, SIGTERM/SIGINT stop the server and the cluster it owns, a killed server's cluster is adopted
by the next start, and the desktop's local server (--demo) stops its cluster too.

These tests start real processes: they share one data folder (one cluster) and run in file order."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from crm_server.embedded_db import SYSTEM_USER, EmbeddedPostgres, _bin_dir, _is_root
from tests.support import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ADMIN = "it@example.com"
PASSWORD = "a long admin passphrase"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _postgres_processes(pgdata: Path) -> list[int]:
    """Every live process whose command line names this data folder (the postmaster: `-D <pgdata>`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(pgdata).encode() in cmdline and b"postgres" in cmdline[0] and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class Folder:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def cluster(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.root)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CRM_DATABASE_URL"}
        env.update(CRM_DATA_DIR=str(self.root), CRM_LOG_LEVEL="info", CRM_DB_POOL_SIZE="4")
        return env

    def serve(self) -> subprocess.Popen[bytes]:
        log = self.log = self.root.parent / f"serve-{time.monotonic_ns()}.log"
        with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "crm_server.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait_healthy(self.process, str(log))
        return self.process

    def wait_healthy(self, process: subprocess.Popen[bytes] | None, log: str = "", deadline: float = 120) -> None:
        end = time.monotonic() + deadline
        last = ""
        while time.monotonic() < end:
            assert process is None or process.poll() is None, f"the server exited:\n{Path(log).read_text()[-3000:]}"
            try:
                answer = httpx.get(self.base + "/health", timeout=10)
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise AssertionError(f"/health never answered 200; last: {last}")

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crm_server.cli", *args],
            input=stdin,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def login(self) -> None:
        answer = httpx.post(self.base + "/api/auth/login", json={"email": ADMIN, "password": PASSWORD}, timeout=20)
        assert answer.status_code == 200, (answer.text, self.log.read_text()[-3000:] if self.log else "")

    def kill_all(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        pg_ctl(self.cluster.pgdata, "stop", "-m", "immediate", check=False)


def pg_ctl(pgdata: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The cluster's own pg_ctl, as the user PostgreSQL runs as."""
    return subprocess.run(
        [str(_bin_dir() / "pg_ctl"), "-D", str(pgdata), "-w", *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=60,
        user=SYSTEM_USER if _is_root() else None,
    )


@contextmanager
def _scratch() -> Iterator[Path]:
    """A folder outside pytest's tmp_path: pytest sets its base folder back to mode 0700 whenever
    another pytest starts, and PostgreSQL runs as another user when the tests run as root."""
    path = Path(tempfile.mkdtemp(prefix="crm-embedded-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def folder() -> Iterator[Folder]:
    with _scratch() as scratch:
        made = Folder(scratch / "data")
        made.root.mkdir()
        try:
            yield made
        finally:
            made.kill_all()


def _owner_pid(folder: Folder) -> int:
    return int(json.loads((folder.root / "cluster-owner.json").read_text())["pid"])


def test_commands_beside_a_running_server_leave_it_serving(folder: Folder) -> None:
    server = folder.serve()
    postmaster = folder.cluster.postmaster_pid()
    assert postmaster is not None

    made = folder.cli("create-admin", "--email", ADMIN, "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    changed = folder.cli("settings", "set", "security.session_idle_minutes", "45")
    assert changed.returncode == 0, changed.stderr
    migrated = folder.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr

    assert server.poll() is None
    health = httpx.get(folder.base + "/health", timeout=10)
    assert health.status_code == 200, health.text
    folder.login()
    # The same cluster all along, still the server's.
    assert folder.cluster.postmaster_pid() == postmaster and _owner_pid(folder) == server.pid


def test_health_names_the_lost_database_and_the_server_recovers(folder: Folder) -> None:
    pg_ctl(folder.cluster.pgdata, "stop", "-m", "immediate")

    down = httpx.get(folder.base + "/health", timeout=30)
    assert down.status_code == 503, down.text
    body = down.json()
    assert body["database"]["status"] == "down" and "database" in body["down"], body

    folder.wait_healthy(folder.process, deadline=90)  # the server restarted the cluster it owns
    folder.login()
    assert folder.process is not None and _owner_pid(folder) == folder.process.pid


def test_sigterm_stops_the_server_and_its_cluster(folder: Folder) -> None:
    server = folder.process
    assert server is not None and server.poll() is None
    postmaster = folder.cluster.postmaster_pid()
    assert postmaster is not None

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert not (folder.cluster.pgdata / "postmaster.pid").exists()
    assert not _alive(postmaster) and _postgres_processes(folder.cluster.pgdata) == []

    # With no server running, a command starts the cluster for itself and stops it again.
    got = folder.cli("settings", "get", "security.session_idle_minutes")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"security.session_idle_minutes": 45}
    assert _postgres_processes(folder.cluster.pgdata) == []


def test_a_killed_servers_cluster_is_adopted_by_the_next_start(folder: Folder) -> None:
    killed = folder.serve()
    postmaster = folder.cluster.postmaster_pid()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert postmaster is not None and _alive(postmaster)  # left running, its owner's pid now dead
    assert _owner_pid(folder) == killed.pid

    again = folder.serve()
    assert folder.cluster.postmaster_pid() == postmaster and _owner_pid(folder) == again.pid
    folder.login()

    again.send_signal(signal.SIGINT)  # Ctrl+C stops the adopted cluster too
    assert again.wait(timeout=10) == 0
    assert not _alive(postmaster) and _postgres_processes(folder.cluster.pgdata) == []


def test_the_desktops_local_server_stops_its_cluster() -> None:
    """--demo's server (crm_desktop/local_server.py) stops the cluster it started, whether the
    desktop stops it (closing its stdin) or it gets SIGTERM."""
    with _scratch() as scratch:
        _local_server_stops_its_cluster(scratch / "demo")


def _local_server_stops_its_cluster(root: Path) -> None:
    from crm_desktop.local_server import LocalServer

    local = LocalServer(root, worker=False, seed=False)
    base = local.start()
    try:
        assert httpx.get(base + "/health", timeout=10).json()["database"]["status"] == "ok"  # (no job worker)
        pgdata = EmbeddedPostgres(root).pgdata
        assert _postgres_processes(pgdata)
    finally:
        local.stop()
    assert _postgres_processes(pgdata) == []

    base = local.start()
    process = local._process
    assert process is not None
    try:
        assert httpx.get(base + "/health", timeout=10).json()["database"]["status"] == "ok"  # (no job worker)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert _postgres_processes(pgdata) == []
    finally:
        local.stop()
        pg_ctl(pgdata, "stop", "-m", "immediate", check=False)
