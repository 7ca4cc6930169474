"""The rules of e-mail from the CRM: templates and their merge tags, rendering a safe subset of
formatted text to HTML plus a plain-text part, composing from a record (queued here, sent by a job
after commit), sender identities, the daily limit and the suppression list. Never commits."""

from __future__ import annotations

import base64
import binascii
import csv
import html
import io
import re
from datetime import UTC, datetime
from email.utils import make_msgid
from typing import Any

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.emails import (
    MAX_EMAIL_ATTACHMENTS_BYTES,
    MERGE_TAGS,
    ComposeIn,
    IdentityIn,
    IdentityOut,
    OutboundOut,
    PreviewIn,
    PreviewOut,
    SuppressionIn,
    SuppressionOut,
    TemplateIn,
    TemplateOut,
    Visibility,
)
from crm_server.contract.spreadsheet import csv_row
from crm_server.db import utcnow
from crm_server.documents import attachments
from crm_server.emails.models import EmailIdentity, EmailTemplate, OutboundAttachment, OutboundEmail, Suppression
from crm_server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_server.jobs import queue

SEND_TASK = "emails.send"
ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Words spam filters score in a subject (a short list of the well-known ones, not a filter of our own).
SPAM_WORDS = ("free", "winner", "guarantee", "act now", "100%", "urgent", "cash", "prize", "click here", "$$$")


# --- text -----------------------------------------------------------------------------------------


def check_tags(entity: str, text: str, field: str) -> None:
    """Every {{tag}} must be one the entity's templates may use; the refusal names it and the field."""
    allowed = MERGE_TAGS[entity]
    for tag in TAG.findall(text):
        if tag not in allowed:
            raise ValidationFailed(
                f"Unknown merge tag {{{{{tag[:60]}}}}}. Tags for {entity} templates: {', '.join(allowed)}.",
                field=field,
            )


def fill(text: str, values: dict[str, str]) -> str:
    return TAG.sub(lambda m: values.get(m.group(1), ""), text)


def to_html(text: str) -> str:
    """Plain text with paragraphs (blank lines), line breaks and **bold**, everything else escaped."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
    out = []
    for p in paragraphs:
        escaped = html.escape(p, quote=True)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        out.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return "<html><body>\n" + "\n".join(out) + "\n</body></html>"


def single_line(value: str, field: str) -> str:
    """A header value: no line breaks or control characters (header injection is refused)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationFailed("This must be one line without control characters.", field=field)
    return value.strip()


def address(value: str, field: str) -> str:
    value = single_line(value, field)
    if not ADDRESS.match(value) or len(value) > 320:
        raise ValidationFailed(f"{value[:80]!r} is not one valid e-mail address.", field=field)
    return value


def spam_warnings(subject: str) -> list[str]:
    warnings = []
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 6 and all(c.isupper() for c in letters):
        warnings.append("The subject is all capitals; spam filters dislike that.")
    if "!!" in subject:
        warnings.append("Several exclamation marks in the subject look like spam.")
    lowered = subject.lower()
    for word in SPAM_WORDS:
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
            warnings.append(f"The word {word!r} in the subject often sends messages to spam.")
    return warnings


# --- templates ------------------------------------------------------------------------------------


def _visible_templates(principal: Principal) -> Any:
    return or_(
        EmailTemplate.visibility == "everyone",
        EmailTemplate.owner_id == principal.user_id,
        (EmailTemplate.visibility == "team") & (EmailTemplate.team_id == principal.team_id),
        true() if principal.can("admin", "edit") else false(),
    )


def _check_template(principal: Principal, data: TemplateIn) -> None:
    if not principal.can("activities", "create"):
        raise Forbidden("Your role may not write e-mail templates.")
    if data.visibility != Visibility.private and not (
        principal.can("activities", "delete") or principal.can("admin", "edit")
    ):
        raise Forbidden("Only managers and admins share templates with a team or everyone.", field="visibility")
    if data.visibility == Visibility.team and principal.team_id is None:
        raise ValidationFailed("You are in no team to share this with.", field="visibility")
    single_line(data.subject, "subject")
    check_tags(data.entity, data.subject, "subject")
    check_tags(data.entity, data.body, "body")


async def list_templates(session: AsyncSession, principal: Principal, entity: str | None) -> list[TemplateOut]:
    stmt = select(EmailTemplate).where(_visible_templates(principal)).order_by(EmailTemplate.name, EmailTemplate.id)
    if entity is not None:
        stmt = stmt.where(EmailTemplate.entity == entity)
    return [TemplateOut.model_validate(t) for t in (await session.scalars(stmt)).all()]


async def visible_template(session: AsyncSession, principal: Principal, template_id: int) -> EmailTemplate:
    found = await session.scalar(
        select(EmailTemplate).where(EmailTemplate.id == template_id, _visible_templates(principal))
    )
    if found is None:
        raise NotFound("No such template.", field="template_id")
    return found


def _announce(session: AsyncSession, principal: Principal, entity: str, entity_id: int, action: str) -> None:
    events.emit(session, module="emails", entity=entity, entity_id=entity_id, action=action, actor_id=principal.user_id)


async def save_template(
    session: AsyncSession, principal: Principal, data: TemplateIn, template_id: int | None = None
) -> TemplateOut:
    _check_template(principal, data)
    if template_id is None:
        template = EmailTemplate(owner_id=principal.user_id)
        session.add(template)
        before: dict[str, Any] = {}
    else:
        template = await visible_template(session, principal, template_id)
        if template.owner_id != principal.user_id and not principal.can("admin", "edit"):
            raise Forbidden("Only its author or an admin changes this template.")
        before = {"name": template.name, "subject": template.subject, "visibility": template.visibility}
    template.name, template.entity, template.subject = data.name.strip(), data.entity.value, data.subject.strip()
    template.body, template.visibility = data.body, data.visibility.value
    template.team_id = principal.team_id if data.visibility == Visibility.team else None
    template.updated_at = utcnow()
    await session.flush()
    after = {"name": template.name, "subject": template.subject, "visibility": template.visibility}
    action = "created" if template_id is None else "updated"
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="email_template",
        entity_id=template.id,
        action=action,
        changes=audit.diff(before, after),
    )
    _announce(session, principal, "email_template", template.id, action)
    await session.refresh(template)
    return TemplateOut.model_validate(template)


async def delete_template(session: AsyncSession, principal: Principal, template_id: int) -> None:
    template = await visible_template(session, principal, template_id)
    if template.owner_id != principal.user_id and not principal.can("admin", "edit"):
        raise Forbidden("Only its author or an admin removes this template.")
    await session.delete(template)
    audit.record(session, actor_id=principal.user_id, entity="email_template", entity_id=template_id, action="deleted")
    _announce(session, principal, "email_template", template_id, "deleted")


# --- records and merge values ---------------------------------------------------------------------


async def _record(session: AsyncSession, principal: Principal, entity: str, entity_id: int) -> tuple[Any, str | None]:
    """The record in the viewer's scope, its own address, and its merge values."""
    if entity == "lead":
        from crm_server.leads.service import visible_lead

        lead = await visible_lead(session, principal, entity_id)
        return lead, lead.email
    if entity == "client":
        from crm_server.clients.service import visible_client

        client = await visible_client(session, principal, entity_id)
        return client, client.email
    if entity == "ticket":
        from crm_server.tickets.service import visible_ticket

        ticket = await visible_ticket(session, principal, entity_id)
        return ticket, ticket.requester_email
    from crm_server.invoices.service import visible_invoice

    invoice = await visible_invoice(session, principal, entity_id)
    return invoice, None


async def _values(session: AsyncSession, principal: Principal, entity: str, record: Any) -> dict[str, str]:
    from crm_server.clients.models import Client

    cfg = await settings.get_all(session)
    user = await session.get(User, principal.user_id)
    identity = await session.get(EmailIdentity, principal.user_id)
    values = {
        "owner.full_name": (identity.display_name if identity and identity.display_name else None)
        or (user.full_name if user else ""),
        "owner.email": (identity.reply_to if identity and identity.reply_to else None) or (user.email if user else ""),
        "owner.signature": identity.signature if identity else "",
        "company.name": str(cfg["company.name"] or ""),
    }
    for column in ("person_name", "company", "email", "phone", "name", "subject"):
        if hasattr(record, column):
            values[f"{entity}.{column}"] = str(getattr(record, column) or "")
    if entity in ("ticket", "invoice"):
        values[f"{entity}.number"] = str(record.number or "")
    if entity == "invoice":
        values["invoice.total"] = f"{record.gross_total} {record.currency}"
        values["invoice.due_date"] = record.due_date.isoformat() if record.due_date else ""
    client_id = getattr(record, "client_id", None)
    if client_id is not None:
        client = await session.get(Client, client_id)
        values["client.name"] = client.name if client else ""
    return values


async def remaining_today(session: AsyncSession) -> int:
    limit = int(await settings.get(session, "emails.daily_limit"))
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sent = await session.scalar(select(func.count()).where(OutboundEmail.created_at >= start))
    return max(limit - (sent or 0), 0)


async def preview(session: AsyncSession, principal: Principal, entity: str, data: PreviewIn) -> PreviewOut:
    record, own_address = await _record(session, principal, entity, data.entity_id)
    subject, body = data.subject, data.body
    if data.template_id is not None:
        template = await visible_template(session, principal, data.template_id)
        if template.entity != entity:
            raise ValidationFailed(f"This template is for {template.entity} records.", field="template_id")
        subject, body = (
            subject if subject is not None else template.subject,
            body if body is not None else template.body,
        )
    subject, body = subject or "", body or ""
    check_tags(entity, subject, "subject")
    check_tags(entity, body, "body")
    values = await _values(session, principal, entity, record)
    filled_subject = " ".join(fill(subject, values).split())  # a record's line breaks never reach a header
    text = fill(body, values)
    remaining = await remaining_today(session)
    warnings = spam_warnings(filled_subject) + await _send_warnings(session, data.to or own_address, remaining)
    return PreviewOut(
        to=own_address or None,
        subject=filled_subject,
        text=text,
        html=to_html(text),
        warnings=warnings,
        remaining_today=remaining,
    )


async def _send_warnings(session: AsyncSession, to: str | None, remaining: int) -> list[str]:
    """What would refuse the send, said before Send is pressed: a suppressed address (with why),
    today's limit reached."""
    warnings = []
    key = (to or "").strip().lower()
    found = await session.scalar(select(Suppression).where(Suppression.address == key)) if key else None
    if found is not None:
        warnings.append(
            f"{found.address} is on the suppression list ({found.source}: {found.reason}); it gets nothing."
        )
    if remaining <= 0:
        warnings.append("Today's sending limit is reached: messages can be sent again tomorrow.")
    return warnings


# --- sending --------------------------------------------------------------------------------------


async def check_suppressed(session: AsyncSession, addresses: list[str], field: str = "to") -> None:
    """Refuse a send to any suppressed address, with the reason (409 naming the field)."""
    keys = [a.strip().lower() for a in addresses if a.strip()]
    if not keys:
        return
    found = await session.scalar(select(Suppression).where(Suppression.address.in_(keys)))
    if found is not None:
        raise Conflict(
            f"{found.address} is on the suppression list ({found.source}: {found.reason}); nothing is sent to it.",
            field=field,
            code="suppressed",
        )


def _decode(items: list[Any]) -> list[tuple[str, str, bytes]]:
    files, total = [], 0
    for i, item in enumerate(items):
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationFailed("This attachment is not valid base64.", field=f"attachments.{i}.data") from exc
        total += len(data)
        if total > MAX_EMAIL_ATTACHMENTS_BYTES:
            raise ValidationFailed("Attachments may be at most 10 MB together.", field=f"attachments.{i}.data")
        if not data:
            raise ValidationFailed(f"{item.filename} is empty.", field=f"attachments.{i}.data")
        name = single_line(item.filename, f"attachments.{i}.filename").replace("\\", "/").rsplit("/", 1)[-1] or "file"
        files.append((name[:255], attachments.safe_content_type(item.content_type, name), data))
    return files


async def compose(session: AsyncSession, principal: Principal, data: ComposeIn, *, test: bool = False) -> OutboundOut:
    """Queue one message from a record; the job sends it after commit."""
    if not principal.can("activities", "create"):
        raise Forbidden("Your role may not send e-mail from records.")
    entity = data.entity.value
    if entity == "invoice":
        raise ValidationFailed("Invoices are sent from the invoice window (Send).", field="entity")
    record, _ = await _record(session, principal, entity, data.entity_id)
    user = await session.get(User, principal.user_id)
    to = address(user.email if test and user else data.to, "to")
    cc = [] if test else [address(c, f"cc.{i}") for i, c in enumerate(data.cc)]
    subject_template = single_line(data.subject, "subject")
    check_tags(entity, subject_template, "subject")
    check_tags(entity, data.body, "body")
    if data.template_id is not None:
        await visible_template(session, principal, data.template_id)
    await check_suppressed(session, [to])
    for i, c in enumerate(cc):
        await check_suppressed(session, [c], field=f"cc.{i}")
    if await remaining_today(session) <= 0:
        raise Conflict(
            "Today's sending limit is reached (setting emails.daily_limit); send tomorrow.",
            field="to",
            code="daily_limit",
        )
    files = _decode(data.attachments)
    values = await _values(session, principal, entity, record)
    subject = " ".join(fill(subject_template, values).split())[:300]  # as in the preview
    text = fill(data.body, values)
    sender = str(await settings.get(session, "smtp.sender"))
    domain = sender.rpartition("@")[2] or "localhost"
    email = OutboundEmail(
        entity=entity,
        entity_id=data.entity_id,
        template_id=data.template_id,
        sender_id=principal.user_id,
        to_addr=to,
        cc=", ".join(cc),
        subject=("[Test] " if test else "") + subject,
        body_text=text,
        body_html=to_html(text),
        status="queued",
        message_id=make_msgid(domain=domain),
        is_test=test,
    )
    session.add(email)
    await session.flush()
    for name, mime, blob in files:
        session.add(OutboundAttachment(email_id=email.id, filename=name, mime=mime, size=len(blob), data=blob))
    if not test:
        audit.record(
            session,
            actor_id=principal.user_id,
            entity=entity,
            entity_id=data.entity_id,
            action="email_sent",
            changes=[
                {"field": "to", "old": None, "new": to},
                {"field": "subject", "old": None, "new": email.subject},
                {"field": "email_status", "old": None, "new": "queued"},
            ],
        )
    _announce(session, principal, "outbound_email", email.id, "created")
    await queue.defer(session, SEND_TASK, email_id=email.id)
    await session.flush()
    await session.refresh(email)
    return OutboundOut.model_validate(email)


async def emails_of(session: AsyncSession, principal: Principal, entity: str, entity_id: int) -> list[OutboundOut]:
    await _record(session, principal, entity, entity_id)
    rows = await session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.entity == entity, OutboundEmail.entity_id == entity_id, OutboundEmail.is_test.is_(False))
        .order_by(OutboundEmail.id.desc())
        .limit(200)
    )
    return [OutboundOut.model_validate(r) for r in rows.all()]


# --- identity -------------------------------------------------------------------------------------


async def identity(session: AsyncSession, principal: Principal) -> IdentityOut:
    found = await session.get(EmailIdentity, principal.user_id)
    if found is None:
        user = await session.get(User, principal.user_id)
        return IdentityOut(display_name=user.full_name if user else "", reply_to="", signature="")
    return IdentityOut.model_validate(found)


async def save_identity(session: AsyncSession, principal: Principal, data: IdentityIn) -> IdentityOut:
    name = single_line(data.display_name, "display_name")
    reply = address(data.reply_to, "reply_to") if data.reply_to.strip() else ""
    found = await session.get(EmailIdentity, principal.user_id)
    if found is None:
        found = EmailIdentity(user_id=principal.user_id)
        session.add(found)
    found.display_name, found.reply_to, found.signature, found.updated_at = name, reply, data.signature, utcnow()
    await session.flush()
    _announce(session, principal, "email_identity", principal.user_id, "updated")
    return IdentityOut.model_validate(found)


# --- suppression list -----------------------------------------------------------------------------


async def suppressions(session: AsyncSession, q: str | None, offset: int, limit: int) -> Page[SuppressionOut]:
    stmt = select(Suppression)
    if q:
        stmt = stmt.where(Suppression.address.contains(single_line(q, "q").lower(), autoescape=True))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.scalars(
        stmt.order_by(Suppression.created_at.desc(), Suppression.id.desc()).offset(offset).limit(limit)
    )
    return Page[SuppressionOut](
        items=[SuppressionOut.model_validate(r) for r in rows.all()], total=total or 0, offset=offset, limit=limit
    )


async def suppressions_csv(session: AsyncSession, q: str | None) -> str:
    """The suppression list (searched as on the page) as CSV for a spreadsheet: address, reason,
    source, when and who; text cells neutralised against formulas."""
    stmt = select(Suppression, User.full_name).outerjoin(User, User.id == Suppression.created_by)
    if q:
        stmt = stmt.where(Suppression.address.contains(single_line(q, "q").lower(), autoescape=True))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["address", "reason", "source", "added_at", "added_by"])
    rows = await session.execute(stmt.order_by(Suppression.created_at.desc(), Suppression.id.desc()))
    for row, who in rows.all():
        writer.writerow(csv_row([row.address, row.reason, row.source, row.created_at.isoformat(), who or ""]))
    return buffer.getvalue()


async def suppress(session: AsyncSession, principal: Principal, data: SuppressionIn) -> SuppressionOut:
    key = address(data.address, "address").lower()
    reason = single_line(data.reason, "reason")
    if await session.scalar(select(Suppression.id).where(Suppression.address == key)) is not None:
        raise Conflict(f"{key} is on the list already.", field="address", code="duplicate")
    row = Suppression(address=key, reason=reason, source="manual", created_by=principal.user_id)
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="email_suppression",
        entity_id=row.id,
        action="created",
        changes=[{"field": "address", "old": None, "new": key}],
    )
    _announce(session, principal, "email_suppression", row.id, "created")
    await session.refresh(row)
    return SuppressionOut.model_validate(row)


async def unsuppress(session: AsyncSession, principal: Principal, suppression_id: int) -> None:
    row = await session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound("No such entry on the suppression list.", field="suppression_id")
    audit.record(
        session,
        actor_id=principal.user_id,
        entity="email_suppression",
        entity_id=row.id,
        action="deleted",
        changes=[{"field": "address", "old": row.address, "new": None}],
    )
    await session.delete(row)
    _announce(session, principal, "email_suppression", suppression_id, "deleted")
