"""Typed calls of WhatsApp (crm_server.contract.whatsapp): a lead's or client's conversation state
(opt-in, the 24-hour window, approved templates), recording opt-in, its messages and sending one;
the templates (sync from the Cloud API, write, submit for approval), the business number's quality
and messaging limit, and sending for a follow-up (which completes it). A change announces CHANGED."""

from __future__ import annotations

from typing import Literal

from crm_desktop.api.client import ApiClient
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

CHANGED = frozenset({"whatsapp", "leads", "clients"})
FOLLOW_UP_CHANGED = CHANGED | {"activities"}
CAMPAIGNS_CHANGED = frozenset({"whatsapp", "campaigns"})
Kind = Literal["leads", "clients"]


async def conversation(api: ApiClient, kind: Kind, record_id: int) -> Conversation:
    return Conversation.model_validate(await api.get(f"/api/whatsapp/{kind}/{record_id}"))


async def opt_in(api: ApiClient, kind: Kind, record_id: int, body: OptInIn) -> OptInOut:
    return OptInOut.model_validate(await api.put(f"/api/whatsapp/{kind}/{record_id}/opt-in", body.model_dump()))


async def messages(api: ApiClient, kind: Kind, record_id: int) -> list[MessageOut]:
    return [MessageOut.model_validate(m) for m in await api.get(f"/api/whatsapp/{kind}/{record_id}/messages")]


async def send(api: ApiClient, kind: Kind, record_id: int, body: MessageIn) -> MessageOut:
    answer = await api.post(f"/api/whatsapp/{kind}/{record_id}/messages", body.model_dump(exclude_none=True))
    return MessageOut.model_validate(answer)


async def templates(api: ApiClient) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in await api.get("/api/whatsapp/templates")]


async def sync_templates(api: ApiClient) -> list[TemplateOut]:
    return [TemplateOut.model_validate(t) for t in await api.post("/api/whatsapp/templates/sync")]


async def save_template(api: ApiClient, body: TemplateIn, template_id: int | None = None) -> TemplateOut:
    """A new draft, or an edit (a submitted template goes to WhatsApp again: PENDING until approved)."""
    data = body.model_dump(mode="json")
    if template_id is None:
        return TemplateOut.model_validate(await api.post("/api/whatsapp/templates", data))
    return TemplateOut.model_validate(await api.put(f"/api/whatsapp/templates/{template_id}", data))


async def submit_template(api: ApiClient, template_id: int) -> TemplateOut:
    return TemplateOut.model_validate(await api.post(f"/api/whatsapp/templates/{template_id}/submit"))


async def number(api: ApiClient) -> NumberOut:
    return NumberOut.model_validate(await api.get("/api/whatsapp/number"))


async def send_for_follow_up(api: ApiClient, follow_up_id: int, body: FollowUpMessageIn) -> FollowUpSent:
    answer = await api.post(f"/api/whatsapp/follow-ups/{follow_up_id}/messages", body.model_dump(exclude_none=True))
    return FollowUpSent.model_validate(answer)


async def campaign_audience(api: ApiClient, body: CampaignAudienceIn) -> CampaignAudienceOut:
    answer = await api.post("/api/whatsapp/campaigns/audience", body.model_dump(mode="json"))
    return CampaignAudienceOut.model_validate(answer)


async def create_campaign(api: ApiClient, body: CampaignIn) -> CampaignOut:
    answer = await api.post("/api/whatsapp/campaigns", body.model_dump(mode="json", exclude_none=True))
    return CampaignOut.model_validate(answer)


async def start_campaign(api: ApiClient, campaign_id: int) -> CampaignOut:
    return CampaignOut.model_validate(await api.post(f"/api/whatsapp/campaigns/{campaign_id}/start"))


async def campaign_results(api: ApiClient, campaign_id: int) -> CampaignResults:
    return CampaignResults.model_validate(await api.get(f"/api/whatsapp/campaigns/{campaign_id}/results"))
