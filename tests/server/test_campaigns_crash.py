"""A server killed (SIGKILL) in the middle of a campaign's batch sends each recipient at most one
message: the recipient being handed over when it died was claimed ("sending") and committed before
the hand-off, so the next batch finds it, marks it "unconfirmed" (the SMTP server did get it here)
and never sends it again; everyone still queued gets exactly one message after the person pauses and
resumes the campaign on a server that came back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.support import LiveServer, free_port, server_process

HELD_AT = 4  # the fourth message is taken in, and its answer held until the server is dead


class HoldingSmtp:
    """A loopback SMTP server that keeps every message and holds its answer to the HELD_AT-th."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        if len(self.messages) == HELD_AT:
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 120)
            return "451 gone"
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[HoldingSmtp]:
    box = HoldingSmtp()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        box.release.set()
        controller.stop()


async def _until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_killed_mid_batch_sends_nobody_twice(
    server: LiveServer, admin: httpx.AsyncClient, mailbox: HoldingSmtp
) -> None:
    values = {
        "smtp.host": "127.0.0.1",
        "smtp.port": mailbox.port,
        "smtp.security": "none",
        "smtp.sender": "crm@example.com",
        "app.public_url": server.base_url,
    }
    assert (await admin.patch("/api/settings", json={"values": values})).status_code == 200
    addresses = [f"p{i}@crash.example" for i in range(8)]
    for i, address in enumerate(addresses):
        made = await admin.post("/api/leads", json={"person_name": f"P{i}", "email": address, "tags": ["crash"]})
        assert made.status_code == 201, made.text
    assert (
        await admin.post("/api/campaigns/consents", json={"addresses": addresses, "source": "t"})
    ).status_code == 200
    body = {"name": "Crash", "entity": "lead", "filters": {"tag": "crash"}, "subject": "Hi", "body": "Hello"}
    campaign = (await admin.post("/api/campaigns", json=body)).json()
    assert (await admin.post(f"/api/campaigns/{campaign['id']}/start")).status_code == 200  # no worker here

    with server_process(server.database_url, free_port(), worker=True) as process:  # it takes the batch

        async def held() -> bool:
            return mailbox.holding.is_set()

        await _until(held, "the batch never reached the held message")
        process.kill()  # SIGKILL, mid hand-off
        process.wait(timeout=10)
    mailbox.release.set()
    assert len(mailbox.messages) == HELD_AT

    with LiveServer.run(server.database_url, worker=True):  # the server comes back; a person resumes
        assert (await admin.post(f"/api/campaigns/{campaign['id']}/pause")).status_code == 200
        assert (await admin.post(f"/api/campaigns/{campaign['id']}/resume")).status_code == 200

        async def done() -> bool:
            found = (await admin.get(f"/api/campaigns/{campaign['id']}")).json()
            return bool(found["status"] == "done")

        await _until(done, "the campaign did not finish")

    to = [m["To"] for m in mailbox.messages]
    assert sorted(to) == sorted(addresses) and len(to) == len(set(to))  # everyone once, nobody twice
    counts = (await admin.get(f"/api/campaigns/{campaign['id']}")).json()["counts"]
    assert (counts["sent"], counts["unconfirmed"], counts["queued"], counts["sending"]) == (7, 1, 0, 0)
    recipients = (
        await admin.get(f"/api/campaigns/{campaign['id']}/recipients", params={"state": "unconfirmed"})
    ).json()
    assert [r["address"] for r in recipients["items"]] == [mailbox.messages[HELD_AT - 1]["To"]]
