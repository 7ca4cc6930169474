"""HTTP routes of partners for the office (/api/partners): partners, their portal users and
invitations (admins), and the partner a lead is credited to (anyone who sees the lead)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.partners import (
    InviteOut,
    LeadPartnerOut,
    PartnerIn,
    PartnerOut,
    PartnerUserIn,
    PartnerUserOut,
    ReviewOut,
)
from crm_server.leads.service import visible_lead
from crm_server.partners import review, service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["partners"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/partners", response_model=Page[PartnerOut])
async def list_partners(
    session: Session,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = require("admin", "view"),
) -> Page[PartnerOut]:
    """Partner companies by name, with their managing salesperson and how many users and leads."""
    return await service.list_partners(session, q, offset, limit)


@router.post("/partners", response_model=PartnerOut, status_code=201)
async def create_partner(
    body: PartnerIn, session: Session, principal: Principal = require("admin", "edit")
) -> PartnerOut:
    return await service.create_partner(session, principal, body)


@router.get("/partners/registrations", response_model=list[ReviewOut])
async def waiting_registrations(session: Session, principal: Principal = require("admin", "view")) -> list[ReviewOut]:
    """Registrations waiting for review (a weak match with an existing lead), oldest first."""
    return await review.waiting(session)


@router.post("/partners/registrations/{registration_id}/accept", response_model=ReviewOut)
async def accept_registration(
    session: Session, registration_id: Id, principal: Principal = require("admin", "edit")
) -> ReviewOut:
    """Make the lead and credit it to the partner (given to its managing salesperson)."""
    return await review.accept(session, principal, registration_id)


@router.post("/partners/registrations/{registration_id}/reject", response_model=ReviewOut)
async def reject_registration(
    session: Session, registration_id: Id, principal: Principal = require("admin", "edit")
) -> ReviewOut:
    """The partner's page then says "not accepted"; no lead is made."""
    return await review.reject(session, principal, registration_id)


@router.get("/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(session: Session, partner_id: Id, principal: Principal = require("admin", "view")) -> PartnerOut:
    return await service.get_partner(session, partner_id)


@router.put("/partners/{partner_id}", response_model=PartnerOut)
async def update_partner(
    body: PartnerIn, session: Session, partner_id: Id, principal: Principal = require("admin", "edit")
) -> PartnerOut:
    """Edit a partner; deactivating it signs its people out of the portal."""
    return await service.update_partner(session, principal, partner_id, body)


@router.get("/partners/{partner_id}/users", response_model=list[PartnerUserOut])
async def list_users(
    session: Session, partner_id: Id, principal: Principal = require("admin", "view")
) -> list[PartnerUserOut]:
    return await service.list_users(session, partner_id)


@router.post("/partners/{partner_id}/users", response_model=PartnerUserOut, status_code=201)
async def create_user(
    body: PartnerUserIn, session: Session, partner_id: Id, principal: Principal = require("admin", "edit")
) -> PartnerUserOut:
    return await service.create_user(session, principal, partner_id, body)


@router.put("/partners/{partner_id}/users/{user_id}", response_model=PartnerUserOut)
async def update_user(
    body: PartnerUserIn,
    session: Session,
    partner_id: Id,
    user_id: Id,
    principal: Principal = require("admin", "edit"),
) -> PartnerUserOut:
    """Edit a partner user; deactivating one signs them out of the portal."""
    return await service.update_user(session, principal, partner_id, user_id, body)


@router.post("/partners/{partner_id}/users/{user_id}/invite", response_model=InviteOut)
async def invite(
    request: Request,
    session: Session,
    partner_id: Id,
    user_id: Id,
    principal: Principal = require("admin", "edit"),
) -> InviteOut:
    """E-mail the user a single-use link to choose their password (sent by a job)."""
    configured = str(await settings.get(session, "app.public_url") or "").strip().rstrip("/")
    base = configured or str(request.base_url).rstrip("/")
    return await service.invite(session, principal, partner_id, user_id, base)


@router.get("/leads/{lead_id}/partner", response_model=LeadPartnerOut)
async def lead_partner(
    session: Session, lead_id: Id, principal: Principal = require("leads", "view")
) -> LeadPartnerOut:
    """The partner the lead is credited to and its registration's state (none: no partner)."""
    await visible_lead(session, principal, lead_id)
    return await service.lead_partner(session, lead_id)
