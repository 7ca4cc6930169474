"""DKIM signing (dkimpy) and the DNS records IT publishes for the company's mail (issue #22).

The private key is a write-only secret setting (`dkim.private_key`): generated here, never returned.
When `dkim.enabled` is on and a key is stored, `crm_server.mail._send` signs every outgoing message
(records, invoices, campaigns: they all leave through it). The check signs a sample message and
verifies it against the DKIM record this page tells IT to publish, with that record handed to
dkimpy directly: nothing is read from the internet, so it proves the key and the record agree,
not that DNS already serves the record."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

import dkim  # type: ignore[import-untyped]  # dkimpy ships no type information
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.contract.emails import DkimCheckOut, DkimOut, DnsRecord

KEY_BITS = 2048  # what every large receiver accepts; 1024 is weak, 4096 overflows some DNS consoles
SIGNED_HEADERS: tuple[bytes, ...] = (
    *(b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"mime-version", b"content-type"),
    *(b"list-unsubscribe", b"list-unsubscribe-post"),
)
LABEL = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def generate_key() -> str:
    """A new RSA private key, PEM (PKCS#8), for the secret setting."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key(private_pem: str) -> str:
    """The p= value of the DKIM record: the public key, DER SubjectPublicKeyInfo in base64."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def domain_of(cfg: dict[str, Any]) -> str:
    return (str(cfg["dkim.domain"] or "").strip() or str(cfg["smtp.sender"]).rpartition("@")[2]).lower()


def _names(cfg: dict[str, Any]) -> tuple[str, str] | None:
    """(domain, selector) when both are valid DNS names (a setting is hostile input too)."""
    domain, selector = domain_of(cfg), str(cfg["dkim.selector"] or "").strip().lower()
    if not LABEL.match(domain) or "." not in domain or not LABEL.match(selector):
        return None
    return domain, selector


def dkim_record(cfg: dict[str, Any]) -> str | None:
    key = str(cfg["dkim.private_key"] or "")
    return f"v=DKIM1; k=rsa; p={public_key(key)}" if key else None


def overview(cfg: dict[str, Any]) -> DkimOut:
    """The state of signing and the three TXT records to publish, with what each is for."""
    names = _names(cfg)
    domain, selector = names or (domain_of(cfg), str(cfg["dkim.selector"] or ""))
    warnings = []
    if names is None:
        warnings.append(
            f"{domain or '(no domain)'!r} with selector {selector!r} is not a valid DNS name: "
            "set the DKIM domain and selector (letters, digits, hyphens, dots)."
        )
    if cfg["dkim.enabled"] and not cfg["dkim.private_key"]:
        warnings.append("Signing is on but there is no key yet: messages go out unsigned until one is generated.")
    include = str(cfg["emails.spf_include"] or "").strip()
    spf = f"v=spf1 mx include:{include} ~all" if include else "v=spf1 mx a ~all"
    report_to = str(cfg["company.email"] or "").strip() or str(cfg["smtp.sender"])
    records = [
        DnsRecord(
            purpose="SPF",
            name=domain,
            value=spf,
            note="Which servers may send mail for the domain. If the domain has an SPF record already, "
            "add the include to it instead: a domain may have only one.",
        )
    ]
    value = dkim_record(cfg)
    if value is not None:
        records.append(
            DnsRecord(
                purpose="DKIM",
                name=f"{selector}._domainkey.{domain}",
                value=value,
                note="The public half of the signing key. Publish it before turning signing on.",
            )
        )
    records.append(
        DnsRecord(
            purpose="DMARC",
            name=f"_dmarc.{domain}",
            value=f"v=DMARC1; p=none; rua=mailto:{report_to}; adkim=r; aspf=r",
            note="Start with p=none and read the reports; move to quarantine once SPF and DKIM pass.",
        )
    )
    return DkimOut(
        enabled=bool(cfg["dkim.enabled"]),
        domain=domain,
        selector=selector,
        has_key=bool(cfg["dkim.private_key"]),
        records=records,
        warnings=warnings,
    )


def sign(cfg: dict[str, Any], raw: bytes) -> bytes:
    """The DKIM-Signature header line for `raw` (relaxed/relaxed: survives re-folding on the way)."""
    names = _names(cfg)
    if names is None:
        raise ValueError("the DKIM domain or selector is not a valid DNS name")
    domain, selector = names
    present = {line.split(b":", 1)[0].strip().lower() for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")}
    headers = [h for h in SIGNED_HEADERS if h in present]
    signature: bytes = dkim.sign(
        raw,
        selector.encode("ascii"),
        domain.encode("ascii"),
        str(cfg["dkim.private_key"]).encode("ascii"),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=headers,
    )
    return signature


def signed(cfg: dict[str, Any], message: EmailMessage) -> tuple[str, list[str], bytes] | None:
    """(envelope sender, recipients, signed bytes) of a message when signing is on and a key is
    stored; None otherwise (the message goes out as it is). Bcc is taken off, as smtplib does."""
    if not cfg.get("dkim.enabled") or not cfg.get("dkim.private_key"):  # a partial dict: no signing
        return None
    recipients = [a for _, a in getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])])]
    del message["Bcc"]
    sender = getaddresses([str(message["Sender"] or message["From"] or "")])
    raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return (sender[0][1] if sender else ""), [r for r in recipients if r], sign(cfg, raw) + raw


def check(cfg: dict[str, Any]) -> DkimCheckOut:
    """Sign a sample message and verify it against the record to publish (no DNS lookup)."""
    record = dkim_record(cfg)
    names = _names(cfg)
    if record is None:
        return DkimCheckOut(ok=False, message="There is no DKIM key yet: generate one first.")
    if names is None:
        return DkimCheckOut(ok=False, message="The DKIM domain or selector is not a valid DNS name.")
    domain, selector = names
    sample = EmailMessage()
    sample["From"] = f"crm@{domain}"
    sample["To"] = f"check@{domain}"
    sample["Subject"] = "DKIM check"
    sample["Date"] = formatdate(usegmt=True)
    sample["Message-ID"] = make_msgid(domain=domain)
    sample.set_content("This message checks the DKIM key against its DNS record.")
    raw = sample.as_bytes(policy=sample.policy.clone(linesep="\r\n"))
    published = f"{selector}._domainkey.{domain}."

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record.encode("ascii") if name.decode("ascii", "replace").lower() == published else None

    if dkim.verify(sign(cfg, raw) + raw, dnsfunc=dns):
        return DkimCheckOut(
            ok=True,
            message=f"A message signed with the stored key verifies against the record for {published[:-1]}. "
            "This does not ask DNS: after publishing, IT can confirm with any DKIM checker.",
        )
    return DkimCheckOut(ok=False, message="A message signed with the stored key does not verify against its record.")


async def state(session: AsyncSession) -> DkimOut:
    return overview(await settings.get_all(session))


async def new_key(session: AsyncSession, principal: Principal) -> DkimOut:
    """A new key pair replaces the stored one (the old DKIM record stops verifying: publish the new)."""
    old, new = await settings.put(session, "dkim.private_key", generate_key(), principal.user_id)
    changes = audit.diff({"dkim.private_key": old}, {"dkim.private_key": new})  # named, never written
    audit.record(session, actor_id=principal.user_id, entity="settings", entity_id=0, action="updated", changes=changes)
    events.emit(
        session,
        module="admin",
        entity="settings",
        entity_id=0,
        action="updated",
        actor_id=principal.user_id,
        data={"keys": ["dkim.private_key"]},
    )
    return overview(await settings.get_all(session))


async def run_check(session: AsyncSession) -> DkimCheckOut:
    return check(await settings.get_all(session))
