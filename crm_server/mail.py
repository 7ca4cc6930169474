"""Outgoing email over the SMTP server configured in settings."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.emails import dkim_keys
from crm_server.errors import AppError


class MailError(AppError):
    status = 502
    code = "smtp_failed"


class MailNotConfigured(MailError):
    """Not the mail server's failure but this server's settings: a conflict the admin resolves."""

    status = 409
    code = "smtp_not_configured"


def _send(cfg: dict[str, Any], message: EmailMessage, timeout: float) -> None:
    host, port, security = cfg["smtp.host"], int(cfg["smtp.port"]), cfg["smtp.security"]
    if not host:
        raise MailNotConfigured("SMTP is not configured: set the SMTP host in Settings.", field="smtp.host")
    try:
        if security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg["smtp.user"]:
                smtp.login(cfg["smtp.user"], cfg["smtp.password"])
            hand_over(smtp, cfg, message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP error: {exc}", field="smtp.host") from exc


def hand_over(smtp: smtplib.SMTP, cfg: dict[str, Any], message: EmailMessage) -> None:
    """Send one message on an open connection, DKIM-signed when `dkim.enabled` is on (`cfg` is the
    settings, as settings.get_all gives them). Every sender of mail goes through here: a record's
    e-mail, an invoice, a campaign batch on its one connection."""
    try:
        signed = dkim_keys.signed(cfg, message)  # None unless signing is on
    except Exception as exc:  # a broken key or name: said, never sent unsigned behind the admin's back
        raise MailError(f"DKIM signing failed: {exc}", field="dkim.private_key") from exc
    if signed is None:
        smtp.send_message(message)
    else:
        smtp.sendmail(*signed)


async def send(
    session: AsyncSession,
    to: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, str, bytes]] | None = None,
    timeout: float = 15,
) -> None:
    """Send one message; raises MailError with the SMTP server's own words on failure."""
    cfg = await settings.get_all(session)
    message = EmailMessage()
    message["From"] = cfg["smtp.sender"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    for filename, mime, data in attachments or []:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    await asyncio.to_thread(_send, cfg, message, timeout)
