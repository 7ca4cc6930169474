"""HTTP routes of e-mail from the CRM (/api/emails): templates, preview, compose from a record, a
test to oneself, the sender identity, the suppression list (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.emails import (
    ComposeIn,
    DkimCheckOut,
    DkimOut,
    EmailEntity,
    IdentityIn,
    IdentityOut,
    OutboundOut,
    PreviewIn,
    PreviewOut,
    SuppressionIn,
    SuppressionOut,
    TemplateIn,
    TemplateOut,
)
from crm_server.emails import dkim_keys, service
from crm_server.routing import CurrentUser, Session, TxRoute, require

router = APIRouter(prefix="/api/emails", route_class=TxRoute, tags=["emails"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/templates", response_model=list[TemplateOut])
async def list_templates(
    session: Session, principal: CurrentUser, entity: Annotated[EmailEntity | None, Query()] = None
) -> list[TemplateOut]:
    """Templates the user may use: their own, their team's and everyone's."""
    return await service.list_templates(session, principal, entity.value if entity else None)


@router.post("/templates", response_model=TemplateOut, status_code=201)
async def create_template(body: TemplateIn, session: Session, principal: CurrentUser) -> TemplateOut:
    return await service.save_template(session, principal, body)


@router.put("/templates/{template_id}", response_model=TemplateOut)
async def update_template(body: TemplateIn, session: Session, principal: CurrentUser, template_id: Id) -> TemplateOut:
    return await service.save_template(session, principal, body, template_id)


@router.delete("/templates/{template_id}", status_code=204)
async def delete_template(session: Session, principal: CurrentUser, template_id: Id) -> None:
    await service.delete_template(session, principal, template_id)


@router.post("/preview/{entity}", response_model=PreviewOut)
async def preview(entity: EmailEntity, body: PreviewIn, session: Session, principal: CurrentUser) -> PreviewOut:
    """A template (or a draft) filled from a real record in the viewer's scope, with spam warnings
    and how many messages today's limit still allows."""
    return await service.preview(session, principal, entity.value, body)


@router.post("/send", response_model=OutboundOut, status_code=202)
async def send(body: ComposeIn, session: Session, principal: CurrentUser) -> OutboundOut:
    """Queue a message from a record; a job sends it after commit."""
    return await service.compose(session, principal, body)


@router.post("/send-test", response_model=OutboundOut, status_code=202)
async def send_test(body: ComposeIn, session: Session, principal: CurrentUser) -> OutboundOut:
    """The same message, to the sender's own address, marked [Test]."""
    return await service.compose(session, principal, body, test=True)


@router.get("/records/{entity}/{entity_id}", response_model=list[OutboundOut])
async def record_emails(
    entity: EmailEntity, entity_id: Id, session: Session, principal: CurrentUser
) -> list[OutboundOut]:
    return await service.emails_of(session, principal, entity.value, entity_id)


@router.get("/identity", response_model=IdentityOut)
async def get_identity(session: Session, principal: CurrentUser) -> IdentityOut:
    return await service.identity(session, principal)


@router.put("/identity", response_model=IdentityOut)
async def put_identity(body: IdentityIn, session: Session, principal: CurrentUser) -> IdentityOut:
    return await service.save_identity(session, principal, body)


@router.get("/suppressions", response_model=Page[SuppressionOut], dependencies=[require("admin", "view")])
async def list_suppressions(
    session: Session,
    q: Annotated[str | None, Query(max_length=320)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[SuppressionOut]:
    return await service.suppressions(session, q, offset, limit)


@router.get(
    "/suppressions.csv",
    dependencies=[require("admin", "export")],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The suppression list as CSV"}},
)
async def export_suppressions(session: Session, q: Annotated[str | None, Query(max_length=320)] = None) -> Response:
    return Response(
        await service.suppressions_csv(session, q),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="suppression-list.csv"'},
    )


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
async def add_suppression(
    body: SuppressionIn, session: Session, principal: Principal = require("admin", "edit")
) -> SuppressionOut:
    return await service.suppress(session, principal, body)


@router.delete("/suppressions/{suppression_id}", status_code=204)
async def remove_suppression(
    suppression_id: Id, session: Session, principal: Principal = require("admin", "edit")
) -> None:
    await service.unsuppress(session, principal, suppression_id)


@router.get("/dkim", response_model=DkimOut, dependencies=[require("admin", "view")])
async def dkim_state(session: Session) -> DkimOut:
    """DKIM signing's state and the SPF, DKIM and DMARC records IT publishes (never the private key)."""
    return await dkim_keys.state(session)


@router.post("/dkim/key", response_model=DkimOut)
async def dkim_new_key(session: Session, principal: Principal = require("admin", "edit")) -> DkimOut:
    """Generate a new key pair; the private half is stored as a write-only setting."""
    return await dkim_keys.new_key(session, principal)


@router.post("/dkim/check", response_model=DkimCheckOut, dependencies=[require("admin", "view")])
async def dkim_check(session: Session) -> DkimCheckOut:
    """Sign a sample and verify it against the record to publish, without asking DNS."""
    return await dkim_keys.run_check(session)
