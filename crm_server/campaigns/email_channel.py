"""The e-mail channel of the campaign engine: one SMTP connection per batch, each message with its
stored Message-ID, links rewritten to signed click redirects, an open pixel, an unsubscribe link and
the RFC 8058 one-click headers (List-Unsubscribe + List-Unsubscribe-Post)."""

from __future__ import annotations

import asyncio
import html
import re
import smtplib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate
from typing import Any

from crm_server.campaigns.engine_types import ChannelError, Outgoing, Snapshot
from crm_server.campaigns.service import URL
from crm_server.emails import dkim_keys
from crm_server.emails.service import to_html

TIMEOUT = 30
WIRE = compat32.clone(linesep="\r\n")  # sendmail() sends bytes as they are: CRLF here


def render(snap: Snapshot, out: Outgoing) -> bytes:
    """The message as sent (email.mime, flattened once: the modern EmailMessage costs twice as much)."""
    base = snap.public_url
    click = {url: f"{base}/track/c/{out.click_tokens[i]}" for i, url in enumerate(snap.links)}
    unsubscribe = f"{base}/track/u/{out.unsubscribe_token}"

    def plain(m: re.Match[str]) -> str:
        url = m.group(0)
        core = url.rstrip(".,;:!?")
        return click[core] + url[len(core) :] if core in click else url

    def linked(m: re.Match[str]) -> str:
        url = html.unescape(m.group(0))
        core = url.rstrip(".,;:!?")
        if core not in click:
            return m.group(0)
        rest = html.escape(url[len(core) :])
        return f'<a href="{html.escape(click[core])}">{html.escape(core)}</a>{rest}'

    text = re.sub(URL, plain, out.text) + f"\n\n--\nUnsubscribe: {unsubscribe}\n"
    body = re.sub(URL, linked, to_html(out.text))
    footer = (
        f'<p style="font-size:small;color:#666"><a href="{html.escape(unsubscribe)}">Unsubscribe</a></p>'
        f'<img src="{html.escape(base)}/track/o/{out.open_token}.gif" width="1" height="1" alt="">'
    )
    body = body.replace("</body>", footer + "\n</body>")
    message = MIMEMultipart("alternative")
    message["From"] = formataddr((snap.sender_name, snap.sender)) if snap.sender_name else snap.sender
    message["To"] = out.address
    message["Subject"] = out.subject if out.subject.isascii() else Header(out.subject, "utf-8").encode()
    message["Message-ID"] = out.message_id
    message["Date"] = formatdate(localtime=False)
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(body, "html", "utf-8"))
    return message.as_bytes(policy=WIRE)


def _connect(cfg: dict[str, Any]) -> smtplib.SMTP:
    host, port, security = cfg["smtp.host"], int(cfg["smtp.port"]), cfg["smtp.security"]
    if not host:
        raise ChannelError("SMTP is not configured: set the SMTP host in Settings.")
    try:
        if security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if cfg["smtp.user"]:
            smtp.login(cfg["smtp.user"], cfg["smtp.password"])
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"SMTP error: {exc}") from exc
    return smtp


@asynccontextmanager
async def open_sender(snap: Snapshot) -> AsyncIterator[Callable[[Outgoing], Awaitable[None]]]:
    """One connection for the batch. A failed hand-off is never retried here (the server may have
    taken the message): the message is marked failed and the next one opens a new connection."""
    holder: list[smtplib.SMTP] = []

    def send(out: Outgoing) -> None:
        message = render(snap, out)
        if snap.smtp.get("dkim.enabled") and snap.smtp.get("dkim.private_key"):  # as mail.hand_over signs
            try:
                message = dkim_keys.sign(snap.smtp, message) + message
            except Exception as exc:  # a broken key or name: said, never sent unsigned behind the admin's back
                raise ChannelError(f"DKIM signing failed: {exc}") from exc
        if not holder:
            holder.append(_connect(snap.smtp))
        try:
            holder[0].sendmail(snap.sender, [out.address], message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"The mail server refused {out.address}: {exc.recipients}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            holder.clear()
            raise ChannelError(f"SMTP error: {exc}") from exc

    async def deliver(out: Outgoing) -> None:
        await asyncio.to_thread(send, out)

    try:
        yield deliver
    finally:
        if holder:
            try:
                await asyncio.to_thread(holder[0].quit)
            except (OSError, smtplib.SMTPException):
                pass
