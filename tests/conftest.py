"""Shared fixtures: a real PostgreSQL cluster for the session, a fresh database per test cloned
from a migrated template, the real ASGI app served over HTTP, a real SMTP server on loopback."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from crm_server import migrate
from crm_server.embedded_db import EmbeddedPostgres
from tests.support import LiveServer, Smtp, make_url

TEMPLATE = "crm_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    root = Path(os.environ.get("CRM_TEST_PG_DIR") or tmp_path_factory.mktemp("pg"))
    cluster = EmbeddedPostgres(root)
    admin_url = cluster.start("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate.upgrade(make_url(admin_url, TEMPLATE))
    cluster.admin_url = admin_url  # type: ignore[attr-defined]
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(pg_cluster: EmbeddedPostgres) -> Iterator[str]:
    """A fresh, migrated database for one test (a file copy of the template: tens of ms)."""
    admin_url: str = pg_cluster.admin_url  # type: ignore[attr-defined]
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
    yield make_url(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
