"""HTTP routes of campaigns: building and running them under /api/campaigns (the author's or an
admin's), and the public tracking doors under /track that recipients' mail programs reach:

- GET  /track/o/<token>.gif   the open pixel (always the same 1x1 GIF; machine opens kept apart)
- GET  /track/c/<token>       a click: 302 to the campaign's own link, 404 for anything else
- GET  /track/u/<token>       the unsubscribe page: a button, nothing changes (scanners follow GETs)
- POST /track/u/<token>       unsubscribe (RFC 8058 one-click, and the page's button)"""

from __future__ import annotations

import base64
import html
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm_server.campaigns import public, service
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
from crm_server.routing import CurrentUser, Session, TxRoute, client_address

router = APIRouter(prefix="/api/campaigns", route_class=TxRoute, tags=["campaigns"])
tracking = APIRouter(prefix="/track", route_class=TxRoute, tags=["campaign tracking"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Token = Annotated[str, Path(min_length=1, max_length=120)]
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


@router.post("/audience", response_model=AudienceOut)
async def count_audience(body: AudienceIn, session: Session, principal: CurrentUser) -> AudienceOut:
    """How many the filters match, how many would get it, and why the others would not."""
    return await service.count_audience(session, principal, body)


@router.get("", response_model=Page[CampaignOut])
async def list_campaigns(
    session: Session,
    principal: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CampaignOut]:
    return await service.list_campaigns(session, principal, offset, limit)


@router.post("", response_model=CampaignOut, status_code=201)
async def create_campaign(body: CampaignIn, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.create(session, principal, body)


@router.post("/consents")
async def grant_consent(body: ConsentIn, session: Session, principal: CurrentUser) -> dict[str, int]:
    """Record that these addresses agreed to receive campaigns."""
    return {"granted": await service.grant_consent(session, principal, body)}


@router.get("/engagement/{entity}/{entity_id}", response_model=EngagementOut)
async def engagement(entity: CampaignEntity, entity_id: Id, session: Session, principal: CurrentUser) -> EngagementOut:
    return await service.engagement(session, principal, entity.value, entity_id)


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: Id, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.get(session, principal, campaign_id)


@router.put("/{campaign_id}", response_model=CampaignOut)
async def update_campaign(campaign_id: Id, body: CampaignIn, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.update_draft(session, principal, campaign_id, body)


@router.post("/{campaign_id}/start", response_model=CampaignOut)
async def start(campaign_id: Id, session: Session, principal: CurrentUser) -> CampaignOut:
    """Fix the audience now and send (or wait for the scheduled time)."""
    return await service.start(session, principal, campaign_id)


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
async def pause(campaign_id: Id, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.pause(session, principal, campaign_id)


@router.post("/{campaign_id}/resume", response_model=CampaignOut)
async def resume(campaign_id: Id, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.resume(session, principal, campaign_id)


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel(campaign_id: Id, session: Session, principal: CurrentUser) -> CampaignOut:
    return await service.cancel(session, principal, campaign_id)


@router.get("/{campaign_id}/results", response_model=ResultsOut)
async def results(campaign_id: Id, session: Session, principal: CurrentUser) -> ResultsOut:
    return await service.results(session, principal, campaign_id)


@router.get("/{campaign_id}/recipients", response_model=Page[RecipientOut])
async def recipients(
    campaign_id: Id,
    session: Session,
    principal: CurrentUser,
    state: Annotated[str | None, Query(max_length=20, pattern=r"^[a-z_]*$")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[RecipientOut]:
    return await service.recipients(session, principal, campaign_id, state, offset, limit)


# --- the public doors ------------------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=NO_STORE)


def _agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:500]


@tracking.get("/o/{token}.gif", include_in_schema=False)
async def open_pixel(token: Token, session: Session, request: Request) -> Response:
    await public.opened(session, token, _agent(request), client_address(request))
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@tracking.get("/c/{token}", include_in_schema=False)
async def click(token: Token, session: Session, request: Request) -> Response:
    url = await public.clicked(session, token, _agent(request), client_address(request))
    if url is None:
        return _page("This link is not valid", "<p>The link may have been changed or cut short.</p>", 404)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


@tracking.get("/u/{token}", include_in_schema=False)
async def unsubscribe_page(token: Token, session: Session) -> Response:
    address = await public.can_unsubscribe(session, token)
    if address is None:
        return _page("This link is not valid", "<p>The link may have been changed or cut short.</p>", 404)
    return _page(
        "Unsubscribe",
        f"<p>Stop campaign e-mails to <strong>{html.escape(address)}</strong>?</p>"
        '<form method="post"><button type="submit" name="List-Unsubscribe" value="One-Click">'
        "Unsubscribe</button></form>",
    )


@tracking.post("/u/{token}", include_in_schema=False)
async def unsubscribe(token: Token, session: Session) -> Response:
    address = await public.unsubscribe(session, token)
    if address is None:
        return _page("This link is not valid", "<p>The link may have been changed or cut short.</p>", 404)
    return _page("You are unsubscribed", f"<p>{html.escape(address)} will get no more campaign e-mails.</p>")
