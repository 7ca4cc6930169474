"""The job's side of a message from a record: build the MIME message (plain text + HTML, the
sender's name and reply address, the attachments, the stored Message-ID) and hand it to the company
SMTP server after commit. A failure is final for that message and shown with the server's words."""

from __future__ import annotations

import asyncio
import logging
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr

from sqlalchemy import select
from sqlalchemy.orm import undefer

from crm_server import events, mail
from crm_server.admin import audit, settings
from crm_server.auth.models import User
from crm_server.db import Database, utcnow
from crm_server.emails.models import EmailIdentity, OutboundAttachment, OutboundEmail, Suppression
from crm_server.emails.replies import announce_on_record, record_keys

log = logging.getLogger(__name__)


async def send_queued(db: Database, email_id: int) -> str:
    async with db.transaction() as session:
        email = await session.get(OutboundEmail, email_id, with_for_update=True)
        if email is None:
            return f"skipped: no email {email_id}"
        if email.status != "queued":
            return f"skipped: email {email_id} is {email.status} already"
        cfg = await settings.get_all(session)
        identity = await session.get(EmailIdentity, email.sender_id) if email.sender_id else None
        user = await session.get(User, email.sender_id) if email.sender_id else None
        files = (
            await session.scalars(
                select(OutboundAttachment)
                .options(undefer(OutboundAttachment.data))
                .where(OutboundAttachment.email_id == email.id)
            )
        ).all()
        error: str | None = None
        suppressed = await session.scalar(select(Suppression).where(Suppression.address.in_([email.to_addr.lower()])))
        if suppressed is not None:  # suppressed after it was queued: still not sent
            error = f"{suppressed.address} is on the suppression list ({suppressed.reason})."
        else:
            message = EmailMessage()
            name = (identity.display_name if identity and identity.display_name else "") or (
                user.full_name if user else ""
            )
            sender = str(cfg["smtp.sender"])
            message["From"] = formataddr((name, sender)) if name else sender
            message["To"] = email.to_addr
            if email.cc:
                message["Cc"] = email.cc
            if identity and identity.reply_to:
                message["Reply-To"] = str(Address(addr_spec=identity.reply_to))
            message["Subject"] = email.subject
            message["Message-ID"] = email.message_id
            message.set_content(email.body_text)
            message.add_alternative(email.body_html, subtype="html")
            for f in files:
                maintype, _, subtype = f.mime.partition("/")
                message.add_attachment(f.data, maintype=maintype, subtype=subtype, filename=f.filename)
            try:
                await asyncio.to_thread(mail._send, cfg, message, 15)
            except mail.MailError as exc:
                error = exc.message
            except Exception as exc:  # a message that cannot be built still ends as "failed"
                log.exception("email %s could not be prepared", email_id)
                error = f"The email could not be prepared: {exc}"
        if error is None:
            email.status, email.sent_at, email.error = "sent", utcnow(), None
        else:
            email.status, email.error = "failed", error[:2000]
        if not email.is_test:
            changes: list[dict[str, str | None]] = [{"field": "email_status", "old": "queued", "new": email.status}]
            if error is not None:
                changes.append({"field": "error", "old": None, "new": email.error})
            audit.record(
                session,
                actor_id=email.sender_id,
                entity=email.entity,
                entity_id=email.entity_id,
                action="email_sent",
                changes=[{"field": "subject", "old": None, "new": email.subject}, *changes],
            )
        events.emit(
            session,
            module="emails",
            entity="outbound_email",
            entity_id=email.id,
            action="updated",
            actor_id=None,
            data=record_keys(email.entity, email.entity_id),
        )
        await announce_on_record(session, email.entity, email.entity_id, email.status)  # its window shows it
        outcome = f"sent to {email.to_addr}" if error is None else f"failed: {email.to_addr}: {error}"
    return outcome[:500]
