"""Jobs of the partners area: the invitation e-mail (retried when SMTP fails) and the nightly
settling of registrations (they follow their lead's outcome; unprogressed ones lapse)."""

from __future__ import annotations

import logging
from datetime import timedelta

import procrastinate
from procrastinate import JobContext

from crm_server import mail
from crm_server.admin import settings
from crm_server.auth import tokens
from crm_server.db import Database, utcnow
from crm_server.jobs import blueprint
from crm_server.partners import registrations
from crm_server.partners.models import Partner, PartnerInvitation, PartnerUser
from crm_server.partners.service import INVITE_TASK

log = logging.getLogger(__name__)

EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=60, exponential_wait=2)


async def send_invitation(db: Database, partner_user_id: int, base_url: str, actor_id: int | None) -> str:
    """Make the token here (only its SHA-256 is stored) and mail the link; a failed send rolls the
    token back and the task retries."""
    async with db.transaction() as session:
        person = await session.get(PartnerUser, partner_user_id)
        partner = await session.get(Partner, person.partner_id) if person else None
        if person is None or partner is None or not person.active or not partner.active:
            return "no active partner user"
        configured = str(await settings.get(session, "app.public_url") or "").strip().rstrip("/")
        days = int(await settings.get(session, "partners.invitation_days"))
        token, now = tokens.new_token(), utcnow()
        session.add(
            PartnerInvitation(
                partner_user_id=person.id,
                token_hash=tokens.digest(token),
                created_by=actor_id,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
        company = str(await settings.get(session, "company.name"))
        link = f"{configured or base_url.rstrip('/')}/portal/accept?token={token}"
        body = (
            f"Hello {person.full_name},\n\n{company} invites you to its partner portal as a user of "
            f"{partner.name}. There you register the leads you bring and follow how they do.\n\n"
            f"Open this link within {days} days to choose your password:\n\n    {link}\n\n"
            "The link works once. If you did not expect this, ignore this e-mail.\n"
        )
        await mail.send(session, person.email, f"Your partner portal invitation from {company}", body)
    return "sent"


@blueprint.task(name=INVITE_TASK, pass_context=True, retry=EMAIL_RETRY)
async def send_invitation_task(
    context: JobContext, partner_user_id: int, base_url: str, actor_id: int | None = None
) -> str:
    db: Database = context.additional_context["db"]
    return await send_invitation(db, partner_user_id, base_url, actor_id)


@blueprint.periodic(cron="40 1 * * *")
@blueprint.task(name="partners.settle", pass_context=True, queueing_lock="partners.settle")
async def settle(context: JobContext, timestamp: int) -> int:
    db: Database = context.additional_context["db"]
    async with db.transaction() as session:
        count = await registrations.settle(session, utcnow())
    if count:
        log.info("partner registrations lapsed: %d", count)
    return count
