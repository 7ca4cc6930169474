"""Shared fixtures: a real PostgreSQL cluster for the session, a fresh database per test cloned
from a migrated template, the real ASGI app served over HTTP, a real SMTP server on loopback."""

from __future__ import annotations

import gc
import itertools
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from crm_server import migrate
from crm_server.embedded_db import EmbeddedPostgres
from tests.support import LiveServer, Smtp, make_url

TEMPLATE = "crm_template"
_counter = itertools.count()
_frozen = False


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread() -> Iterator[None]:
    """Python collects garbage on whichever thread allocates; a live server's thread must not free
    Qt objects (Qt crashes, even in a server test that runs after the desktop tests in the same
    process). So every test runs with the collector off and collects on this thread before and
    after. The app does the same with gc_guard. What is alive before the first test (modules, the
    cluster) is frozen out of every collection: collecting is then cheap enough to do per test."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True
    gc.disable()
    yield
    gc.collect()
    gc.enable()


class Clones:
    """Fresh copies of the migrated template, made on a thread of their own while the tests run
    (a file copy takes about 0.3 s here: no test should wait for it), and dropped behind them."""

    def __init__(self, admin_url: str, ahead: int = 2) -> None:
        self.admin_url = admin_url
        self.ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self.finished: queue.Queue[str] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._work, daemon=True, name="database-clones")
        self.thread.start()

    def take(self) -> str:
        return self.ready.get(timeout=60)

    def give_back(self, name: str) -> None:
        self.finished.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for left in (self.ready, self.finished):
                while not left.empty():
                    conn.execute(f'DROP DATABASE IF EXISTS "{left.get()}" WITH (FORCE)')

    def _work(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stopping.is_set():
                name = f"t_{os.getpid()}_{next(_counter)}"
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
                while True:
                    while not self.finished.empty():
                        conn.execute(f'DROP DATABASE IF EXISTS "{self.finished.get()}" WITH (FORCE)')
                    try:
                        self.ready.put(name, timeout=0.05)
                        break
                    except queue.Full:
                        if self.stopping.is_set():
                            self.finished.put(name)
                            return


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedPostgres]:
    """One cluster per pytest process (xdist's gw0, gw1...). Not under pytest's tmp folder: run as
    root, the cluster runs as another user, and every pytest that starts closes that folder (0700)."""
    chosen = os.environ.get("CRM_TEST_PG_DIR")
    made = None if chosen else tempfile.mkdtemp(prefix="crm-test-pg-")
    root = Path(chosen) / os.environ.get("PYTEST_XDIST_WORKER", "main") if chosen else Path(made or "")
    cluster = EmbeddedPostgres(root)
    admin_url = cluster.start("postgres", durable=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate.upgrade(make_url(admin_url, TEMPLATE))
    cluster.admin_url = admin_url  # type: ignore[attr-defined]
    yield cluster
    cluster.stop()
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture(scope="session")
def clones(pg_cluster: EmbeddedPostgres) -> Iterator[Clones]:
    made = Clones(pg_cluster.admin_url)  # type: ignore[attr-defined]
    yield made
    made.close()


@pytest.fixture
def database_url(pg_cluster: EmbeddedPostgres, clones: Clones) -> Iterator[str]:
    """A fresh, migrated database for one test, cloned ahead of time from the template."""
    name = clones.take()
    yield make_url(pg_cluster.admin_url, name)  # type: ignore[attr-defined]
    clones.give_back(name)


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The real app, served by uvicorn on a loopback port, with its job worker off."""
    with LiveServer.run(database_url, worker=False) as live:
        yield live


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with Smtp.run() as mailbox:
        yield mailbox


@pytest.fixture
async def admin(server: LiveServer) -> AsyncIterator[object]:
    async with server.client() as api:
        await server.login_admin(api)
        yield api


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """Every statement the in-process server sends while the test runs."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, params))

    event.listen(Engine, "before_cursor_execute", keep)
    yield sent
    event.remove(Engine, "before_cursor_execute", keep)
