"""DKIM signing and the DNS records page over HTTP (issue #22): an admin generates a key pair (the
private key is a write-only setting: never in any answer), the page lists SPF, DKIM and DMARC
records, the check verifies without DNS, and a message the server sends arrives at the loopback
SMTP server signed: dkim.verify passes against the published record (handed to dkimpy, no DNS).
Hostile names are refused naming the setting; other roles may not read or make keys."""

from __future__ import annotations

from email import policy
from typing import Any

import dkim  # type: ignore[import-untyped]
import httpx

from tests.support import LiveServer, Smtp


async def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_signed_mail_verifies_against_the_published_record(
    server: LiveServer, admin: httpx.AsyncClient, smtp: Smtp
) -> None:
    before = await _ok(await admin.get("/api/emails/dkim"))
    assert not before["has_key"] and [r["purpose"] for r in before["records"]] == ["SPF", "DMARC"]

    made = await admin.post("/api/emails/dkim/key")
    assert made.status_code == 200 and "PRIVATE KEY" not in made.text
    state = made.json()
    assert state["has_key"] and [r["purpose"] for r in state["records"]] == ["SPF", "DKIM", "DMARC"]
    settings = await admin.get("/api/settings")
    assert settings.json()["values"]["dkim.private_key"] is True and "PRIVATE KEY" not in settings.text
    audit = await admin.get("/api/audit", params={"entity": "settings"})
    assert "PRIVATE KEY" not in audit.text

    values = {
        **smtp.settings(),
        "dkim.enabled": True,
        "dkim.domain": "northwind.example",
        "emails.spf_include": "_spf.mail.example",
    }
    await _ok(await admin.patch("/api/settings", json={"values": values}))
    state = await _ok(await admin.get("/api/emails/dkim"))
    records = {r["purpose"]: r for r in state["records"]}
    assert records["SPF"] == {
        **records["SPF"],
        "name": "northwind.example",
        "value": "v=spf1 mx include:_spf.mail.example ~all",
    }
    assert records["DKIM"]["name"] == "crm._domainkey.northwind.example"
    assert records["DKIM"]["value"].startswith("v=DKIM1; k=rsa; p=MII")
    assert records["DMARC"]["name"] == "_dmarc.northwind.example"
    assert records["DMARC"]["value"].startswith("v=DMARC1; p=none; rua=mailto:")
    check = await _ok(await admin.post("/api/emails/dkim/check"))
    assert check["ok"], check

    await _ok(await admin.post("/api/settings/test-email", json={"to": "it@northwind.example"}))
    [message] = await smtp.wait_for(1)
    assert message["DKIM-Signature"] is not None and "d=northwind.example" in str(message["DKIM-Signature"])
    raw = message.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    published = records["DKIM"]["value"].encode()

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return published if name == b"crm._domainkey.northwind.example." else None

    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"DKIM check", b"DKIM chock").replace(b"test", b"tost"), dnsfunc=dns)

    # A new key pair: the old record no longer verifies what is signed now.
    await _ok(await admin.post("/api/emails/dkim/key"))
    await _ok(await admin.post("/api/settings/test-email", json={"to": "it@northwind.example"}))
    second = (await smtp.wait_for(2))[1].as_bytes(policy=policy.default.clone(linesep="\r\n"))
    assert not dkim.verify(second, dnsfunc=dns)


async def test_hostile_names_and_other_roles_are_refused(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for key, value in (
        ("dkim.selector", "crm\r\nBcc: x@evil.example"),
        ("dkim.domain", "a b.example"),
        ("emails.spf_include", "x;rm"),
    ):
        answer = await admin.patch("/api/settings", json={"values": {key: value}})
        assert answer.status_code == 422 and answer.json()["field"] == key, answer.text
    assert (await admin.post("/api/emails/dkim/check")).json()["ok"] is False  # no key yet: said, not a 500

    await server.create_user("sam@example.com", full_name="Sam Sales")
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.post("/api/emails/dkim/key")).status_code == 403
        assert (await sam.get("/api/emails/dkim")).status_code == 403
