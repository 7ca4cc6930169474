"""Typed calls of e-mail campaigns (crm_server.contract.campaigns): the audience count, building,
starting, pausing, resuming and cancelling a campaign, its results and recipients, engagement."""

from __future__ import annotations

from crm_desktop.api.client import ApiClient
from crm_server.contract.campaigns import (
    AudienceIn,
    AudienceOut,
    CampaignEntity,
    CampaignIn,
    CampaignOut,
    ConsentIn,
    EngagementOut,
    RecipientOut,
    ResultsOut,
)
from crm_server.contract.common import Page

MODULE = "campaigns"  # the live events' module
CHANGED = frozenset({"campaigns"})


async def audience(api: ApiClient, data: AudienceIn) -> AudienceOut:
    return AudienceOut.model_validate(await api.post("/api/campaigns/audience", data.model_dump(mode="json")))


async def campaigns(api: ApiClient, offset: int = 0, limit: int = 50) -> Page[CampaignOut]:
    return Page[CampaignOut].model_validate(await api.get("/api/campaigns", offset=offset, limit=limit))


async def campaign(api: ApiClient, campaign_id: int) -> CampaignOut:
    return CampaignOut.model_validate(await api.get(f"/api/campaigns/{campaign_id}"))


async def save(api: ApiClient, data: CampaignIn, campaign_id: int | None = None) -> CampaignOut:
    body = data.model_dump(mode="json")
    if campaign_id is None:
        return CampaignOut.model_validate(await api.post("/api/campaigns", body))
    return CampaignOut.model_validate(await api.put(f"/api/campaigns/{campaign_id}", body))


async def act(api: ApiClient, campaign_id: int, action: str) -> CampaignOut:
    """start, pause, resume or cancel."""
    assert action in ("start", "pause", "resume", "cancel")
    return CampaignOut.model_validate(await api.post(f"/api/campaigns/{campaign_id}/{action}", {}))


async def results(api: ApiClient, campaign_id: int) -> ResultsOut:
    return ResultsOut.model_validate(await api.get(f"/api/campaigns/{campaign_id}/results"))


async def recipients(
    api: ApiClient, campaign_id: int, offset: int = 0, limit: int = 100, state: str | None = None
) -> Page[RecipientOut]:
    params: dict[str, object] = {"offset": offset, "limit": limit}
    if state:
        params["state"] = state
    return Page[RecipientOut].model_validate(await api.get(f"/api/campaigns/{campaign_id}/recipients", **params))


async def grant_consent(api: ApiClient, data: ConsentIn) -> int:
    answer = await api.post("/api/campaigns/consents", data.model_dump(mode="json"))
    return int(answer["granted"])


async def engagement(api: ApiClient, entity: CampaignEntity, entity_id: int) -> EngagementOut:
    return EngagementOut.model_validate(await api.get(f"/api/campaigns/engagement/{entity.value}/{entity_id}"))


def engagement_text(score: EngagementOut) -> str:
    """The record's line: the score and what it is made of (opens by people, clicks)."""
    opened = "1 campaign opened" if score.opens == 1 else f"{score.opens} campaigns opened"
    clicked = "1 link clicked" if score.clicks == 1 else f"{score.clicks} links clicked"
    return f"Campaign engagement {score.score} of 100 ({opened}, {clicked})"
