"""HTTP routes of WhatsApp: a lead's or client's conversation state, opt-in, messages, sending;
the templates (list, sync from the Cloud API, write, submit for approval), the business number's
quality and limit, sending for a follow-up, and the messages from unknown numbers. The fixed paths
come before /{kind}/{record_id} (which would otherwise catch them)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from sqlalchemy import select

from crm_server.auth.permissions import Principal
from crm_server.contract.campaigns import CampaignOut
from crm_server.contract.whatsapp import (
    CampaignAudienceIn,
    CampaignAudienceOut,
    CampaignIn,
    CampaignResults,
    Conversation,
    FollowUpMessageIn,
    FollowUpSent,
    MessageIn,
    MessageOut,
    NumberOut,
    OptInIn,
    OptInOut,
    TemplateIn,
    TemplateOut,
)
from crm_server.errors import Forbidden
from crm_server.routing import CurrentUser, Session, TxRoute, require
from crm_server.whatsapp import campaigns, follow_ups, number, service
from crm_server.whatsapp import templates as authoring
from crm_server.whatsapp.models import Template

router = APIRouter(prefix="/api/whatsapp", route_class=TxRoute, tags=["whatsapp"])
Kind = Literal["leads", "clients"]
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def allowed(principal: Principal, kind: Kind, action: str) -> None:
    """A lead's WhatsApp needs the leads permission, a client's the clients one."""
    if not principal.can(kind, action):
        raise Forbidden(f"You may not {action} {kind}.")


@router.get("/templates", response_model=list[TemplateOut], dependencies=[require("leads", "view")])
async def templates(session: Session) -> list[TemplateOut]:
    rows = await session.scalars(select(Template).order_by(Template.name, Template.language))
    return [TemplateOut.model_validate(t) for t in rows]


@router.post("/templates/sync", response_model=list[TemplateOut], dependencies=[require("integrations", "edit")])
async def sync_templates(session: Session) -> list[TemplateOut]:
    return await service.sync_templates(session)


@router.post("/templates", response_model=TemplateOut, status_code=201)
async def create_template(
    body: TemplateIn, session: Session, actor: Principal = require("integrations", "edit")
) -> TemplateOut:
    return await authoring.create(session, actor, body)


@router.put("/templates/{template_id}", response_model=TemplateOut)
async def update_template(
    template_id: int, body: TemplateIn, session: Session, actor: Principal = require("integrations", "edit")
) -> TemplateOut:
    return await authoring.update(session, actor, template_id, body)


@router.post("/templates/{template_id}/submit", response_model=TemplateOut)
async def submit_template(
    template_id: int, session: Session, actor: Principal = require("integrations", "edit")
) -> TemplateOut:
    return await authoring.submit(session, actor, template_id)


@router.get("/number", response_model=NumberOut, dependencies=[require("integrations", "view")])
async def business_number(session: Session) -> NumberOut:
    return await number.number(session)


@router.post("/follow-ups/{follow_up_id}/messages", response_model=FollowUpSent, status_code=201)
async def send_for_follow_up(
    follow_up_id: int, body: FollowUpMessageIn, session: Session, actor: Principal = require("activities", "edit")
) -> FollowUpSent:
    return await follow_ups.send(session, actor, follow_up_id, body)


@router.post("/campaigns/audience", response_model=CampaignAudienceOut)
async def campaign_audience(body: CampaignAudienceIn, session: Session, principal: CurrentUser) -> CampaignAudienceOut:
    """How many the filters match, how many opted-in numbers would get it, and why not the others."""
    return await campaigns.count(session, principal, body)


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
async def create_campaign(body: CampaignIn, session: Session, principal: CurrentUser) -> CampaignOut:
    return await campaigns.create(session, principal, body)


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignOut)
async def start_campaign(campaign_id: CampaignId, session: Session, principal: CurrentUser) -> CampaignOut:
    """Pause, resume and cancel are the engine's: /api/campaigns/{id}/pause, /resume, /cancel."""
    return await campaigns.start(session, principal, campaign_id)


@router.get("/campaigns/{campaign_id}/results", response_model=CampaignResults)
async def campaign_results(campaign_id: CampaignId, session: Session, principal: CurrentUser) -> CampaignResults:
    return await campaigns.results(session, principal, campaign_id)


@router.get("/unmatched", response_model=list[MessageOut], dependencies=[require("integrations", "view")])
async def unmatched(session: Session) -> list[MessageOut]:
    return await service.unmatched(session)


@router.get("/{kind}/{record_id}", response_model=Conversation)
async def conversation(kind: Kind, record_id: int, session: Session, principal: CurrentUser) -> Conversation:
    allowed(principal, kind, "view")
    return await service.conversation(session, principal, kind, record_id)


@router.put("/{kind}/{record_id}/opt-in", response_model=OptInOut)
async def opt_in(kind: Kind, record_id: int, body: OptInIn, session: Session, actor: CurrentUser) -> OptInOut:
    allowed(actor, kind, "edit")
    return await service.record_opt_in(session, actor, kind, record_id, body)


@router.get("/{kind}/{record_id}/messages", response_model=list[MessageOut])
async def messages(kind: Kind, record_id: int, session: Session, principal: CurrentUser) -> list[MessageOut]:
    allowed(principal, kind, "view")
    return await service.messages(session, principal, kind, record_id)


@router.post("/{kind}/{record_id}/messages", response_model=MessageOut, status_code=201)
async def send(kind: Kind, record_id: int, body: MessageIn, session: Session, actor: CurrentUser) -> MessageOut:
    allowed(actor, kind, "edit")
    return await service.send(session, actor, kind, record_id, body)
