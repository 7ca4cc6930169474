"""Fixtures shared by several files under tests/server: one server with its job worker and a loopback
SMTP server for the e-mail files, instead of one of each per file (the suite starts fewer servers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support import ADMIN_EMAIL, LiveServer, Smtp, make_url

if TYPE_CHECKING:
    from crm_server.embedded_db import EmbeddedPostgres
    from tests.conftest import Clones


@dataclass
class MailServer:
    """The e-mail files' server (with its worker: a send is a job after commit), their mailbox, and one
    admin. Each file keeps its own settings and applies them in its first test (files that share this
    must not depend on another file's records: they pick their own addresses, tags and users)."""

    live: LiveServer
    mailbox: Smtp
    admin_made: bool = False

    async def login_admin(self, api: httpx.AsyncClient) -> None:
        if self.admin_made:
            await self.live.login(api, ADMIN_EMAIL)
        else:
            await self.live.login_admin(api)
            self.admin_made = True


@pytest.fixture(scope="session")
def mail_server(pg_cluster: EmbeddedPostgres, clones: Clones) -> Iterator[MailServer]:
    """Shared by tests/server/test_emails.py, test_email_deliverability.py and test_campaigns.py (with
    xdist's --dist loadfile: one per process that runs any of them)."""
    name = clones.take()
    try:
        url = make_url(pg_cluster.admin_url, name)  # type: ignore[attr-defined]
        with Smtp.run() as mailbox, LiveServer.run(url, worker=True) as live:
            yield MailServer(live, mailbox)
    finally:
        clones.give_back(name)
