"""The office's side of partners: partner companies with a managing salesperson, their portal users
and invitations, and which partner a lead is credited to. Audited and announced in the caller's
transaction; nothing here commits. (Portal submissions: registrations.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import normalise
from crm_server.clients.ownership import active_user
from crm_server.contract.common import Page
from crm_server.contract.partners import (
    InviteOut,
    LeadPartnerOut,
    PartnerIn,
    PartnerOut,
    PartnerUserIn,
    PartnerUserOut,
    RegistrationOut,
)
from crm_server.db import same_text, savepoint, utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.jobs import queue
from crm_server.partners.models import LeadRegistration, Partner, PartnerSession, PartnerUser

MODULE = "admin"
INVITE_TASK = "partners.send_invitation"
# A registration that still credits its lead to the partner (lapsed and rejected ones do not).
CREDITING = ("registered", "won", "lost")


def _announce(session: AsyncSession, actor_id: int | None, entity: str, entity_id: int, action: str) -> None:
    """Admin events (the Admin > Partners page listens): only those who see the admin module hear."""
    events.emit(session, module="admin", entity=entity, entity_id=entity_id, action=action, actor_id=actor_id)


def _clean_text(value: str, field: str, limit: int) -> str:
    text = " ".join(value.split()) if field == "name" else value.strip()
    if field == "name" and not text:
        raise ValidationFailed("A partner needs a name.", field=field)
    return text[:limit]


# --- partners ------------------------------------------------------------------------------------

_USERS = select(func.count()).where(PartnerUser.partner_id == Partner.id).correlate(Partner).scalar_subquery()
_LEADS = (
    select(func.count())
    .where(LeadRegistration.partner_id == Partner.id, LeadRegistration.lead_id.is_not(None))
    .correlate(Partner)
    .scalar_subquery()
)


def _partner_out(row: Any) -> PartnerOut:
    partner, manager, users, leads = row
    out = PartnerOut.model_validate(partner)
    out.managing_user_name, out.users, out.leads = manager, users or 0, leads or 0
    return out


def _partners() -> Any:
    return select(Partner, User.full_name, _USERS, _LEADS).outerjoin(User, User.id == Partner.managing_user_id)


async def list_partners(session: AsyncSession, q: str, offset: int, limit: int) -> Page[PartnerOut]:
    stmt = _partners()
    if q.strip():
        stmt = stmt.where(Partner.name.icontains(q.strip(), autoescape=True))
    return await paging.page(
        session, stmt, offset, limit, _partner_out, (Partner.name.asc(), Partner.id.asc()), whole_rows=True
    )


async def get_partner(session: AsyncSession, partner_id: int) -> PartnerOut:
    row = (await session.execute(_partners().where(Partner.id == partner_id))).first()
    if row is None:
        raise NotFound("No such partner.")
    return _partner_out(row)


async def _values(session: AsyncSession, data: PartnerIn) -> dict[str, Any]:
    values = data.model_dump()
    values["name"] = _clean_text(data.name, "name", 200)
    values["email"] = normalise.email(data.email) or ""
    values["phone"] = data.phone.strip()
    values["notes"] = data.notes.strip()
    if data.managing_user_id is not None:
        await active_user(session, data.managing_user_id, "managing_user_id")
    return values


async def _name_free(session: AsyncSession, name: str, partner_id: int | None) -> None:
    stmt = select(Partner.id).where(same_text(Partner.name, name))
    if partner_id is not None:
        stmt = stmt.where(Partner.id != partner_id)
    if await session.scalar(stmt) is not None:
        raise ValidationFailed("There is already a partner of this name.", field="name", code="duplicate_name")


async def create_partner(session: AsyncSession, actor: Principal, data: PartnerIn) -> PartnerOut:
    values = await _values(session, data)
    await _name_free(session, values["name"], None)
    partner = Partner(**values)
    session.add(partner)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="partner",
        entity_id=partner.id,
        action="created",
        changes=audit.diff({}, values),
    )
    _announce(session, actor.user_id, "partner", partner.id, "created")
    return await get_partner(session, partner.id)


async def update_partner(session: AsyncSession, actor: Principal, partner_id: int, data: PartnerIn) -> PartnerOut:
    partner = await session.get(Partner, partner_id, with_for_update=True)
    if partner is None:
        raise NotFound("No such partner.")
    values = await _values(session, data)
    await _name_free(session, values["name"], partner_id)
    before = {k: getattr(partner, k) for k in values}
    for key, value in values.items():
        setattr(partner, key, value)
    partner.updated_at = utcnow()
    if not partner.active:  # a deactivated partner's people are signed out of the portal
        await _end_partner_sessions(session, partner_id, "partner_deactivated")
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="partner",
        entity_id=partner.id,
        action="updated",
        changes=audit.diff(before, values),
    )
    _announce(session, actor.user_id, "partner", partner.id, "updated")
    return await get_partner(session, partner.id)


async def _end_partner_sessions(session: AsyncSession, partner_id: int, reason: str) -> None:
    people = select(PartnerUser.id).where(PartnerUser.partner_id == partner_id)
    await session.execute(
        update(PartnerSession)
        .where(PartnerSession.partner_user_id.in_(people), PartnerSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


# --- partner users -------------------------------------------------------------------------------


def _user_out(user: PartnerUser) -> PartnerUserOut:
    return PartnerUserOut(
        id=user.id,
        partner_id=user.partner_id,
        email=user.email,
        full_name=user.full_name,
        active=user.active,
        has_password=user.password_hash is not None,
        totp_enabled=user.totp_enabled,
        invited_at=user.invited_at,
        last_login_at=user.last_login_at,
        locked=user.locked_until is not None and user.locked_until > utcnow(),
    )


async def list_users(session: AsyncSession, partner_id: int) -> list[PartnerUserOut]:
    await get_partner(session, partner_id)
    rows = await session.scalars(
        select(PartnerUser).where(PartnerUser.partner_id == partner_id).order_by(PartnerUser.full_name, PartnerUser.id)
    )
    return [_user_out(u) for u in rows]


def _user_values(data: PartnerUserIn) -> dict[str, Any]:
    name = " ".join(data.full_name.split())
    if not name:
        raise ValidationFailed("A partner user needs a name.", field="full_name")
    email = normalise.email(data.email)
    if email is None:
        raise ValidationFailed("A partner user needs an e-mail address.", field="email")
    return {"email": email, "full_name": name, "active": data.active}


async def _save_user(session: AsyncSession, user: PartnerUser) -> None:
    """The e-mail is unique among partner users (case aside): a clash names the field."""
    try:
        async with savepoint(session):
            await session.flush()
    except IntegrityError:
        raise ValidationFailed(
            "Another partner user has this e-mail address.", field="email", code="duplicate_email"
        ) from None


async def create_user(session: AsyncSession, actor: Principal, partner_id: int, data: PartnerUserIn) -> PartnerUserOut:
    await get_partner(session, partner_id)
    values = _user_values(data)
    user = PartnerUser(partner_id=partner_id, **values)
    session.add(user)
    await _save_user(session, user)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="partner_user",
        entity_id=user.id,
        action="created",
        changes=audit.diff({}, values),
    )
    _announce(session, actor.user_id, "partner_user", user.id, "created")
    return _user_out(user)


async def _partner_user(session: AsyncSession, partner_id: int, user_id: int) -> PartnerUser:
    user = await session.get(PartnerUser, user_id, with_for_update=True)
    if user is None or user.partner_id != partner_id:
        raise NotFound("No such partner user.")
    return user


async def update_user(
    session: AsyncSession, actor: Principal, partner_id: int, user_id: int, data: PartnerUserIn
) -> PartnerUserOut:
    user = await _partner_user(session, partner_id, user_id)
    values = _user_values(data)
    before = {k: getattr(user, k) for k in values}
    for key, value in values.items():
        setattr(user, key, value)
    user.updated_at = utcnow()
    await _save_user(session, user)
    if not user.active or before["email"] != user.email:
        await session.execute(_end_user_sessions(user.id, "deactivated" if not user.active else "email_changed"))
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="partner_user",
        entity_id=user.id,
        action="updated",
        changes=audit.diff(before, values),
    )
    _announce(session, actor.user_id, "partner_user", user.id, "updated")
    return _user_out(user)


def _end_user_sessions(user_id: int, reason: str) -> Any:
    return (
        update(PartnerSession)
        .where(PartnerSession.partner_user_id == user_id, PartnerSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


async def invite(session: AsyncSession, actor: Principal, partner_id: int, user_id: int, base_url: str) -> InviteOut:
    """Queue the invitation e-mail (the job makes the token, so the plain token is never stored)."""
    user = await _partner_user(session, partner_id, user_id)
    partner = await session.get(Partner, partner_id)
    if not user.active or partner is None or not partner.active:
        raise Conflict("Activate the partner and the user before inviting them.", code="inactive")
    days = int(await settings.get(session, "partners.invitation_days"))
    now = utcnow()
    user.invited_at = now
    await queue.defer(session, INVITE_TASK, partner_user_id=user.id, base_url=base_url, actor_id=actor.user_id)
    audit.record(
        session, actor_id=actor.user_id, entity="partner_user", entity_id=user.id, action="invited", changes=[]
    )
    _announce(session, actor.user_id, "partner_user", user.id, "invited")
    return InviteOut(partner_user_id=user.id, expires_at=now + timedelta(days=days))


# --- which partner a lead is credited to ---------------------------------------------------------


async def credited_partner_id(session: AsyncSession, lead_id: int) -> int | None:
    """The partner a lead is credited to (commissions ask this), or None."""
    return await session.scalar(
        select(LeadRegistration.partner_id).where(
            LeadRegistration.lead_id == lead_id, LeadRegistration.state.in_(CREDITING)
        )
    )


async def lead_partner(session: AsyncSession, lead_id: int) -> LeadPartnerOut:
    row = (
        await session.execute(
            select(LeadRegistration, Partner.name, PartnerUser.full_name)
            .join(Partner, Partner.id == LeadRegistration.partner_id)
            .outerjoin(PartnerUser, PartnerUser.id == LeadRegistration.partner_user_id)
            .where(LeadRegistration.lead_id == lead_id)
        )
    ).first()
    if row is None:
        return LeadPartnerOut()
    reg, partner_name, person = row
    out = RegistrationOut.model_validate(
        {
            "id": reg.id,
            "partner_id": reg.partner_id,
            "partner_name": partner_name,
            "partner_user_name": person,
            "lead_id": reg.lead_id,
            "state": reg.state,
            "protected_until": reg.protected_until,
            "created_at": reg.created_at,
        }
    )
    return LeadPartnerOut(registration=out)
