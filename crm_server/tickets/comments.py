"""The conversation on a ticket and its files. A public comment by staff is the first response the
SLA waits for and is emailed to the customer; an internal one stays among staff. Files are kept in
the database (bytea), at most 10 MB each."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from crm_server.admin import audit
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.tickets import MAX_ATTACHMENT_BYTES, AttachmentIn, AttachmentOut, CommentIn, CommentOut
from crm_server.db import utcnow
from crm_server.documents import attachments
from crm_server.errors import AppError, NotFound, ValidationFailed
from crm_server.tickets import notify, service
from crm_server.tickets.models import Ticket, TicketAttachment, TicketComment


class TooLarge(AppError):
    status = 413
    code = "too_large"


def decode(item: AttachmentIn, field: str = "data") -> bytes:
    try:
        data = base64.b64decode(item.data, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("The file is not valid base64.", field=field) from None
    return data


async def store_attachment(
    session: AsyncSession,
    ticket: Ticket,
    comment_id: int | None,
    uploader: int | None,
    filename: str,
    content_type: str,
    data: bytes,
) -> TicketAttachment:
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise TooLarge(
            f"{filename} is {len(data) / 1048576:.1f} MB; files may be at most 10 MB.",
            field="data",
            extra={"max_bytes": MAX_ATTACHMENT_BYTES},
        )
    if not data:
        raise ValidationFailed(f"{filename} is empty.", field="data")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "file"
    mime = attachments.safe_content_type(content_type, name)  # never the sender's text as it came
    attachment = TicketAttachment(
        ticket_id=ticket.id,
        comment_id=comment_id,
        filename=name,
        content_type=mime,
        size=len(data),
        data=data,
        uploaded_by=uploader,
    )
    session.add(attachment)
    await session.flush()
    audit.record(
        session,
        actor_id=uploader,
        entity="ticket",
        entity_id=ticket.id,
        action="attachment_added",
        changes=[{"field": "attachment", "old": None, "new": f"{name} ({len(data)} bytes)"}],
    )
    return attachment


async def save_comment(
    session: AsyncSession,
    ticket: Ticket,
    author_id: int | None,
    body: str,
    *,
    public: bool,
    author_email: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> TicketComment:
    """Write a comment (and its files) and announce it; a staff member's first public comment stamps
    the first response. Emailing it is the caller's choice."""
    body = body.strip() or ("(files attached)" if attachments else "")
    if not body:
        raise ValidationFailed("Write something first.", field="body")
    comment = TicketComment(
        ticket_id=ticket.id, author_id=author_id, author_email=author_email, body=body, public=public
    )
    session.add(comment)
    await session.flush()
    for filename, content_type, data in attachments or []:
        await store_attachment(session, ticket, comment.id, author_id, filename, content_type, data)
    if public and author_id is not None and ticket.first_responded_at is None:
        ticket.first_responded_at = utcnow()
        audit.record(
            session,
            actor_id=author_id,
            entity="ticket",
            entity_id=ticket.id,
            action="first_response",
            changes=[{"field": "first_responded_at", "old": None, "new": ticket.first_responded_at.isoformat()}],
        )
    ticket.updated_at = utcnow()  # the ticket's version moves: open forms see there is news
    await session.flush()
    audit.record(
        session,
        actor_id=author_id,
        entity="ticket_comment",
        entity_id=comment.id,
        action="created",
        changes=[
            {"field": "ticket_id", "old": None, "new": ticket.id},
            {"field": "public", "old": None, "new": public},
        ],
    )
    service.announce(session, author_id, ticket, "commented", comment_id=comment.id, public=public)
    return comment


async def add_comment(session: AsyncSession, actor: Principal, ticket_id: int, data: CommentIn) -> CommentOut:
    ticket = await service.visible_ticket(session, actor, ticket_id, lock=True)
    service.not_archived(ticket)
    files = [(a.filename, a.content_type, decode(a, f"attachments.{i}.data")) for i, a in enumerate(data.attachments)]
    comment = await save_comment(session, ticket, actor.user_id, data.body, public=data.public, attachments=files)
    if data.public:
        await notify.public_comment(session, ticket, comment.body)
    return (await _with_files(session, [comment]))[0]


async def _with_files(session: AsyncSession, comments: list[TicketComment]) -> list[CommentOut]:
    ids = [c.id for c in comments]
    files: dict[int, list[AttachmentOut]] = defaultdict(list)
    if ids:
        for a in await session.scalars(
            select(TicketAttachment).where(TicketAttachment.comment_id.in_(ids)).order_by(TicketAttachment.id)
        ):
            files[a.comment_id or 0].append(AttachmentOut.model_validate(a))
    authors = {c.author_id for c in comments if c.author_id is not None}
    names: dict[int, str] = (
        {uid: name for uid, name in await session.execute(select(User.id, User.full_name).where(User.id.in_(authors)))}
        if authors
        else {}
    )
    out = []
    for c in comments:
        item = CommentOut.model_validate(c)
        item.attachments = files[c.id]
        item.author_name = names.get(c.author_id) if c.author_id is not None else None
        out.append(item)
    return out


async def list_comments(session: AsyncSession, principal: Principal, ticket_id: int) -> list[CommentOut]:
    """The whole conversation, oldest first (a ticket's thread is read top to bottom)."""
    ticket = await service.visible_ticket(session, principal, ticket_id)
    comments = list(
        await session.scalars(
            select(TicketComment)
            .where(TicketComment.ticket_id == ticket.id)
            .order_by(TicketComment.created_at, TicketComment.id)
        )
    )
    return await _with_files(session, comments)


async def add_attachment(session: AsyncSession, actor: Principal, ticket_id: int, item: AttachmentIn) -> AttachmentOut:
    ticket = await service.visible_ticket(session, actor, ticket_id, lock=True)
    service.not_archived(ticket)
    attachment = await store_attachment(
        session, ticket, None, actor.user_id, item.filename, item.content_type, decode(item)
    )
    ticket.updated_at = utcnow()
    await session.flush()
    service.announce(session, actor.user_id, ticket, "updated", attachment_id=attachment.id)
    return AttachmentOut.model_validate(attachment)


async def list_attachments(session: AsyncSession, principal: Principal, ticket_id: int) -> list[AttachmentOut]:
    ticket = await service.visible_ticket(session, principal, ticket_id)
    return [
        AttachmentOut.model_validate(a)
        for a in await session.scalars(
            select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id).order_by(TicketAttachment.id)
        )
    ]


async def get_attachment(session: AsyncSession, principal: Principal, attachment_id: int) -> TicketAttachment:
    """The file with its bytes, if the user sees its ticket; otherwise 404."""
    attachment = await session.scalar(
        select(TicketAttachment).options(undefer(TicketAttachment.data)).where(TicketAttachment.id == attachment_id)
    )
    if attachment is None:
        raise NotFound("No such attachment.")
    await service.visible_ticket(session, principal, attachment.ticket_id)
    return attachment
