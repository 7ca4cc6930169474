"""What a bounce or a complaint does (issue #22): the report is matched to the message we sent by its
Message-ID (a report naming nothing we sent changes nothing: a forged bounce cannot suppress an
address); a hard bounce (5.x.x) suppresses the address with the code and reason in words; a soft
one (4.x.x) marks the message and suppresses only after `emails.soft_bounce_limit` of them within
`emails.soft_bounce_days`; an abuse report suppresses with the reason "complaint". The record the
message was sent from shows it on its timeline. Never commits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events
from crm_server.admin import audit, settings
from crm_server.contract.email_pipe import Outcome
from crm_server.db import utcnow
from crm_server.email_pipe.reports import Report, clean
from crm_server.emails.models import Bounce, OutboundEmail, Suppression
from crm_server.emails.replies import announce_on_record, record_keys

# What a report made of the message on the outbound log (P5's campaign states use the same words).
STATES = {"hard": "bounced", "soft": "soft_bounced", "complaint": "complained"}
SHOWN = {"hard": "Bounced", "soft": "Soft bounce", "complaint": "Complaint"}  # on the record's timeline


async def apply_report(session: AsyncSession, report: Report, pipe_log_id: int | None) -> tuple[Outcome, str | None]:
    """(pipe outcome, why it was ignored) of one report: "bounce", "complaint" or "report_ignored"."""
    if report.kind == "feedback-report" and not report.is_complaint:
        return "report_ignored", f"a feedback report of type {report.feedback_type or '(none)'!r} is no complaint"
    if report.kind == "delivery-status" and not any(f.kind for f in report.failures):
        actions = ", ".join(sorted({f.action or "(none)" for f in report.failures})) or "no recipient"
        return "report_ignored", f"nothing failed (action: {actions}); a delay notice means the mail server still tries"
    email = await session.scalar(
        select(OutboundEmail)
        .where(OutboundEmail.message_id.in_(report.original_ids))
        .order_by(OutboundEmail.id.desc())
        .limit(1)
        .with_for_update()
    )
    if email is None:
        return await _campaign_report(session, report, pipe_log_id)
    recipients = [email.to_addr.lower(), *(c.strip().lower() for c in email.cc.split(",") if c.strip())]
    if report.is_complaint:
        named = [a for a in report.complained if a in recipients]
        address = named[0] if named else email.to_addr.lower()
        await _record(session, email, address, "complaint", "", "complaint", pipe_log_id)
        return "complaint", None
    for failure in report.failures:
        kind = failure.kind
        if kind is None:
            continue
        address = next((a for a in (failure.address, failure.original) if a in recipients), "")
        if not address and len(recipients) == 1:  # forwarded on: the address we wrote to is what bounced
            address = recipients[0]
        if address:
            await _record(session, email, address, kind, failure.status, failure.reason, pipe_log_id)
    return "bounce", None


async def _record(
    session: AsyncSession,
    email: OutboundEmail,
    address: str,
    kind: str,
    status_code: str,
    reason: str,
    pipe_log_id: int | None,
) -> None:
    """Keep the bounce, suppress when the rules say so, mark the message, tell its record."""
    words = f"{SHOWN[kind]}: {reason}" if kind != "complaint" else f"{SHOWN[kind]}: marked as spam"
    note = await keep_and_suppress(session, address, kind, status_code, reason, email.message_id, pipe_log_id, email.id)
    if note:
        words += f" ({note})"
    old = email.status
    email.status, email.error = STATES[kind], clean(words, 2000)
    if not email.is_test:
        audit.record(
            session,
            actor_id=None,
            entity=email.entity,
            entity_id=email.entity_id,
            action="email_complaint" if kind == "complaint" else "email_bounced",
            changes=[
                {"field": "subject", "old": None, "new": email.subject},
                {"field": "to", "old": None, "new": address},
                {"field": "email_status", "old": old, "new": words},
            ],
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
    await announce_on_record(session, email.entity, email.entity_id, STATES[kind])


async def keep_and_suppress(
    session: AsyncSession,
    address: str,
    kind: str,
    status_code: str,
    reason: str,
    message_id: str,
    pipe_log_id: int | None,
    outbound_email_id: int | None = None,
) -> str:
    """Keep one bounce or complaint and apply the suppression rules; "" or a note of what happened
    beyond the bounce itself (soft bounces that reached the limit)."""
    bounce = Bounce(
        address=address,
        kind=kind,
        status_code=status_code,
        reason=reason,
        message_id=message_id,
        outbound_email_id=outbound_email_id,
        pipe_log_id=pipe_log_id,
        at=utcnow(),
    )
    session.add(bounce)
    await session.flush()
    if kind != "soft":
        await suppress(session, address, reason, "bounce" if kind == "hard" else "complaint")
        return ""
    limit, days, count = await soft_count(session, address)
    if count < limit:
        return ""
    if await suppress(session, address, f"{count} soft bounces within {days} days; the last: {reason}", "bounce"):
        return f"{count} within {days} days: the address is now suppressed"
    return ""


async def soft_count(session: AsyncSession, address: str) -> tuple[int, int, int]:
    """(limit, days, messages to the address that soft-bounced within those days): one message
    reported twice counts once."""
    limit = int(await settings.get(session, "emails.soft_bounce_limit"))
    days = int(await settings.get(session, "emails.soft_bounce_days"))
    count = await session.scalar(
        select(func.count(func.distinct(Bounce.message_id))).where(
            Bounce.address == address, Bounce.kind == "soft", Bounce.at >= utcnow() - timedelta(days=days)
        )
    )
    return limit, days, count or 0


async def suppress(session: AsyncSession, address: str, reason: str, source: str) -> bool:
    """Put an address on the suppression list (once; an entry already there is kept as it is)."""
    new_id = await session.scalar(
        insert(Suppression)
        .values(address=address.lower(), reason=clean(reason) or source, source=source)
        .on_conflict_do_nothing(index_elements=[Suppression.address])
        .returning(Suppression.id)
    )
    if new_id is None:
        return False
    audit.record(
        session,
        actor_id=None,
        entity="email_suppression",
        entity_id=new_id,
        action="created",
        changes=[
            {"field": "address", "old": None, "new": address.lower()},
            {"field": "source", "old": None, "new": source},
        ],
    )
    events.emit(session, module="emails", entity="email_suppression", entity_id=new_id, action="created", actor_id=None)
    return True


async def _campaign_report(
    session: AsyncSession, report: Report, pipe_log_id: int | None
) -> tuple[Outcome, str | None]:
    """A report about a campaign message: the campaigns area marks its recipient (it answers whether
    the Message-ID was one of its messages); the address is suppressed by the same rules."""
    from crm_server.campaigns.service import mark_recipient  # campaigns use the e-mail area, not back

    for message_id in report.original_ids:
        if report.is_complaint:
            if await mark_recipient(session, message_id, "complained", "complaint"):
                for address in (report.complained or report.original_to)[:1]:
                    await keep_and_suppress(session, address, "complaint", "", "complaint", message_id, pipe_log_id)
                return "complaint", None
            continue
        matched = False
        for failure in report.failures:
            if failure.kind is not None and await mark_recipient(
                session, message_id, STATES[failure.kind], failure.reason
            ):
                matched = True
                await keep_and_suppress(
                    session, failure.address, failure.kind, failure.status, failure.reason, message_id, pipe_log_id
                )
        if matched:
            return "bounce", None
    return "report_ignored", "the report names no message this CRM sent"
