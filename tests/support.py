"""Test helpers: the app served over real HTTP, a loopback SMTP server, and data factories."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.app import create_app
from crm_server.config import Config
from crm_server.db import Database

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "Tr0ub4dor&3-horse-battery"


def make_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


@functools.cache
def _hashed(password: str) -> str:
    """argon2id is slow on purpose; the tests' few passwords are hashed once per session."""
    from crm_server.auth import passwords

    return passwords.hash_password(password)


# The app writes its OpenAPI document on the first ask (over a second here, several under a loaded
# suite): a test reading it waits longer than httpx's default 5 s.
OPENAPI_SECONDS = 60


@dataclass
class LiveServer:
    database_url: str
    base_url: str
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @classmethod
    @contextmanager
    def run(cls, database_url: str, worker: bool = False, port: int | None = None) -> Iterator[LiveServer]:
        live = cls(database_url, "")
        live.start(worker=worker, port=port)
        try:
            yield live
        finally:
            live.stop()

    def start(self, worker: bool = False, port: int | None = None) -> None:
        port = port or free_port()
        # No periodic job at its hour: a test that runs at 02:05 must not find tonight's backup running.
        config = Config(database_url=self.database_url, worker=worker, schedule=False, db_pool_size=5)
        uv = uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=0.5,  # type: ignore[arg-type]  # an open WebSocket must not hold it 5 s
        )
        self._server = _Server(uv)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="crm-server")
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            self._server = None

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/api/events"

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=20)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A committed unit of work on the test's database (for set-up and checks)."""
        db = Database(self.database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)
        try:
            async with db.transaction() as session:
                yield session
        finally:
            await db.dispose()

    async def login(
        self, api: httpx.AsyncClient, email: str, password: str = PASSWORD, otp: str | None = None
    ) -> dict[str, Any]:
        response = await api.post("/api/auth/login", json={"email": email, "password": password, "otp": otp})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        api.headers["Authorization"] = f"Bearer {body['token']}"
        return body

    async def login_admin(self, api: httpx.AsyncClient) -> dict[str, Any]:
        await self.create_user(ADMIN_EMAIL, role="Admin", full_name="Ada Admin")
        return await self.login(api, ADMIN_EMAIL)

    async def create_user(
        self,
        email: str,
        role: str = "Salesperson",
        full_name: str = "Test User",
        password: str = PASSWORD,
        team: str | None = None,
        **fields: Any,
    ) -> int:
        from crm_server.auth.models import Role, Team, User

        async with self.session() as s:
            role_id = await s.scalar(select(Role.id).where(func.lower(Role.name) == role.lower()))
            assert role_id is not None, role
            team_id = None
            if team is not None:
                team_id = await s.scalar(select(Team.id).where(Team.name == team))
                if team_id is None:
                    new_team = Team(name=team)
                    s.add(new_team)
                    await s.flush()
                    team_id = new_team.id
            user = User(
                email=email,
                full_name=full_name,
                role_id=role_id,
                team_id=team_id,
                password_hash=_hashed(password),
                **fields,
            )
            s.add(user)
            await s.flush()
            return user.id


@contextmanager
def server_process(
    database_url: str, port: int, pool_size: int = 8, worker: bool = True, schedule: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """`crm-server serve` as a process of its own (with its job worker unless told): one a test can kill.
    `schedule`: its worker also defers the periodic jobs at their times (tests/multi shows each runs once)."""
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_WORKER": "true" if worker else "false",
        "CRM_SCHEDULE": "true" if schedule else "false",
        "CRM_DB_POOL_SIZE": str(pool_size),
        "CRM_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen([sys.executable, "-m", "crm_server.cli", "serve", "--port", str(port)], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)  # any answer: it serves
                break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@dataclass
class Smtp:
    """aiosmtpd on a loopback port, keeping every message it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    @classmethod
    @contextmanager
    def run(cls) -> Iterator[Smtp]:
        box = cls("127.0.0.1", free_port())

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                raw = envelope.original_content or envelope.content
                box.messages.append(message_from_bytes(raw, policy=policy.default))
                return "250 OK"

        controller = Controller(Handler(), hostname=box.host, port=box.port)
        controller.start()
        try:
            yield box
        finally:
            controller.stop()

    def settings(self) -> dict[str, Any]:
        return {
            "smtp.host": self.host,
            "smtp.port": self.port,
            "smtp.security": "none",
            "smtp.sender": "crm@example.com",
        }

    async def wait_for(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            await asyncio.sleep(0.02)
        return self.messages
