"""A CRM server on this computer, for ``--demo``, ``--self-test`` and screenshots.

The server runs in a child process (``python -m crm_desktop.local_server``, or ``crm-desktop
--local-server`` in a frozen build): it starts the embedded PostgreSQL in a data folder, migrates
it, fills the demo data once (crm_server/demo.py), serves the real app on a loopback port and prints
``READY <url>``. It stops when its stdin closes (when the desktop asks, or when the desktop dies) or
on SIGTERM/SIGINT, and then stops the embedded PostgreSQL it started.
Running it apart keeps the server's threads and the UI's Qt objects out of each other's way.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)
READY = "READY "
PHASE = "PHASE "  # "PHASE <name> <ms>": how long each step of the start took (tests/perf/bench_desktop_start.py)
IN_PARALLEL = "in parallel"  # in a step's name: it overlapped others (not added up with them)


def demo_data_dir() -> Path:
    """The demo's own embedded database, apart from a real local server's: ``demo`` in the data
    folder, which is ``CRM_DATA_DIR`` when set (as for the server), else the user's data folder."""
    base = os.environ.get("CRM_DATA_DIR", "").strip()
    return (Path(base).expanduser() if base else Path(platformdirs.user_data_dir("crm", appauthor=False))) / "demo"


class LocalServer:
    """The desktop's handle on the child process. ``start()`` blocks: call it off the UI thread."""

    def __init__(self, data_dir: Path, worker: bool = True, seed: bool = True) -> None:
        self.data_dir, self.worker, self.seed = data_dir, worker, seed
        self.base_url = ""
        self.phases: dict[str, float] = {}  # the child's start, step by step, in ms (PHASE lines)
        self.launched_at = self.ready_at = 0.0  # time.time() of the launch and of READY
        self._process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        flags = ["--data-dir", str(self.data_dir)]
        if not self.worker:
            flags.append("--no-worker")
        if not self.seed:
            flags.append("--no-seed")
        if getattr(sys, "frozen", False):  # a PyInstaller build: the app binary serves too
            return [sys.executable, "--local-server", *flags]
        return [sys.executable, "-m", "crm_desktop.local_server", *flags]

    def start(self, timeout: float = 180) -> str:
        """Launch the child (unless `launch()` did already) and wait for its URL."""
        if self._process is None:
            self.launch()
        return self._wait_ready(timeout)

    def launch(self) -> None:
        """Start the child and return at once: ``crm-desktop --demo`` calls it before it loads Qt,
        so the server's start overlaps the desktop's; `start()` then waits for it."""
        # Its own process group: Ctrl+C reaches the desktop, which then stops the server in order.
        group: dict[str, Any]
        if sys.platform == "win32":
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        else:
            group = {"start_new_session": True}
        self.launched_at = time.time()
        self._process = subprocess.Popen(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", **group
        )

    def _wait_ready(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        seen: deque[str] = deque(maxlen=20)
        deadline = time.monotonic() + timeout
        for line in self._process.stdout:
            if line.startswith(PHASE):
                name, _, ms = line[len(PHASE) :].strip().rpartition(" ")
                self.phases[name] = float(ms)
                continue
            if line.startswith(READY):
                self.ready_at = time.time()
                self.base_url = line[len(READY) :].strip()
                threading.Thread(target=self._drain, daemon=True, name="local-server-output").start()
                return self.base_url
            seen.append(line.rstrip())
            if time.monotonic() > deadline:
                break
        self.stop()
        raise RuntimeError("the local server did not start: " + (" / ".join(seen) or "no output"))

    def _drain(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for _line in self._process.stdout:
            pass

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()  # the child's signal to shut down cleanly
            process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the child process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(database_url: str) -> bool:
    from crm_server import demo
    from crm_server.config import to_sqlalchemy_url
    from crm_server.db import Database

    db = Database(to_sqlalchemy_url(database_url), pool_size=1)
    try:
        async with db.transaction() as session:
            return await demo.seed(session)
    finally:
        await db.dispose()


class _Phases:
    """Prints ``PHASE <name> <ms>`` as each step of the start ends (the parent reads them)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def done(self, name: str) -> None:
        """`name` took the time since the last step."""
        now = time.perf_counter()
        self.told(name, (now - self.last) * 1000)
        self.last = now

    def told(self, name: str, ms: float) -> None:
        print(f"{PHASE}{name} {ms:.0f}", flush=True)


class _Beside(threading.Thread):
    """A step of the start run beside the main thread's imports: the embedded cluster starting
    (initdb the first time; in its own processes) and the demo data (mostly waiting on PostgreSQL)
    leave the interpreter free for them."""

    def __init__(self, name: str, step: Callable[[], Any]) -> None:
        super().__init__(daemon=True, name=name)
        self.step = step
        self.value: Any = None
        self.error: BaseException | None = None
        self.ms = 0.0
        self.start()

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.value = self.step()
        except BaseException as exc:  # handed to the main thread by result()
            self.error = exc
        self.ms = (time.perf_counter() - started) * 1000

    def result(self) -> Any:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def serve(data_dir: Path, worker: bool = True, seed: bool = True) -> int:
    """Serve until stdin closes, SIGTERM or SIGINT; then stop the embedded cluster this process owns
    (one it found running under a live owner is left to that owner)."""
    phases = _Phases()
    from crm_server.embedded_db import EmbeddedPostgres

    embedded = EmbeddedPostgres(data_dir)
    starting = _Beside("embedded-postgres-start", embedded.start)
    try:
        from crm_server import migrate
        from crm_server.cli import StopSignals

        if seed:  # all the demo data's code, before its thread starts (one importer at a time)
            from crm_server import demo  # noqa: F401
            from crm_server.integrations import forms  # noqa: F401
    except BaseException:
        starting.join()
        embedded.stop()
        raise
    phases.done("imports for the migrations and demo data")
    with StopSignals() as stop:
        try:
            database_url = starting.result()
            phases.told(f"initdb ({IN_PARALLEL})", embedded.initdb_ms)
            phases.done("database start (what the imports did not cover)")
            migrate.upgrade(database_url)
            phases.done("migrations")
            seeding = None
            if seed and stop.received is None:
                seeding = _Beside("demo-data", lambda: asyncio.run(_seed(database_url)))
            import uvicorn

            from crm_server.app import create_app
            from crm_server.config import Config

            phases.done("server imports (beside the demo data)")
            if seeding is not None:
                try:
                    created = seeding.result()
                except Exception:  # its transaction rolled back: make it here, as before
                    log.warning("the demo data failed beside the imports; making it again", exc_info=True)
                    created = asyncio.run(_seed(database_url))
                log.info("demo data %s", "created" if created else "already there")
                phases.told(f"demo data, all of it ({IN_PARALLEL})", seeding.ms)
                phases.done("demo data (what the server imports did not cover)")
            port = _free_port()
            config = Config(
                database_url=database_url,
                data_dir=data_dir,
                worker=worker,
                db_pool_size=5,
                log_level="warning",
                port=port,
            )
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(config, embedded=embedded),
                    host="127.0.0.1",
                    port=port,
                    log_level="warning",
                    lifespan="on",
                    timeout_graceful_shutdown=5,
                )
            )

            def announce_when_ready() -> None:
                while not server.started and not server.should_exit:
                    time.sleep(0.02)
                if server.started:
                    phases.done("server start")
                    print(f"{READY}http://127.0.0.1:{port}", flush=True)

            def stop_when_stdin_closes() -> None:
                for _line in sys.stdin:
                    pass
                server.should_exit = True

            stop.server = server
            if stop.received is None:
                threading.Thread(target=announce_when_ready, daemon=True).start()
                threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
                server.run()
        finally:
            embedded.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_desktop.local_server")
    parser.add_argument("--data-dir", type=Path, default=demo_data_dir())
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--no-seed", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return serve(args.data_dir, worker=not args.no_worker, seed=not args.no_seed)


if __name__ == "__main__":
    sys.exit(main())
