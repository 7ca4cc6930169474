"""HTTP routes of the clients area: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.activities import service as activities
from crm_server.activities import timeline
from crm_server.auth.permissions import Principal
from crm_server.clients import service, summary
from crm_server.contract.activities import NoteIn, NoteOut, TimelineItem
from crm_server.contract.client_summary import ClientSummaryOut
from crm_server.contract.clients import (
    ClientIn,
    ClientOut,
    ClientQuery,
    ClientUpdate,
    ContactIn,
    ContactOut,
    ContactUpdate,
)
from crm_server.contract.common import Ok, Page, VersionIn
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["clients"])
Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/clients", response_model=Page[ClientOut])
async def list_clients(
    session: Session, query: Annotated[ClientQuery, Query()], principal: Principal = require("clients", "view")
) -> Page[ClientOut]:
    return await service.list_clients(session, principal, query)


@router.post("/clients", response_model=ClientOut, status_code=201)
async def create_client(body: ClientIn, session: Session, actor: Principal = require("clients", "create")) -> ClientOut:
    return await service.create_client(session, actor, body)


@router.get("/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: int, session: Session, principal: Principal = require("clients", "view")) -> ClientOut:
    return await service.client_out(session, await service.visible_client(session, principal, client_id))


@router.patch("/clients/{client_id}", response_model=ClientOut)
async def update_client(
    client_id: int, body: ClientUpdate, session: Session, actor: Principal = require("clients", "edit")
) -> ClientOut:
    return await service.update_client(session, actor, client_id, body)


@router.post("/clients/{client_id}/archive", response_model=ClientOut)
async def archive_client(
    client_id: int, body: VersionIn, session: Session, actor: Principal = require("clients", "edit")
) -> ClientOut:
    return await service.set_archived(session, actor, client_id, body.version, archived=True)


@router.post("/clients/{client_id}/restore", response_model=ClientOut)
async def restore_client(
    client_id: int, body: VersionIn, session: Session, actor: Principal = require("clients", "edit")
) -> ClientOut:
    return await service.set_archived(session, actor, client_id, body.version, archived=False)


@router.post("/clients/{client_id}/contacts", response_model=ContactOut, status_code=201)
async def add_contact(
    client_id: int, body: ContactIn, session: Session, actor: Principal = require("clients", "edit")
) -> ContactOut:
    return await service.add_contact(session, actor, client_id, body)


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
async def update_contact(
    contact_id: int, body: ContactUpdate, session: Session, actor: Principal = require("clients", "edit")
) -> ContactOut:
    return await service.update_contact(session, actor, contact_id, body)


@router.delete("/contacts/{contact_id}", response_model=Ok)
async def delete_contact(contact_id: int, session: Session, actor: Principal = require("clients", "edit")) -> Ok:
    await service.delete_contact(session, actor, contact_id)
    return Ok()


@router.post("/clients/{client_id}/notes", response_model=NoteOut, status_code=201)
async def add_note(
    client_id: int, body: NoteIn, session: Session, actor: Principal = require("clients", "edit")
) -> NoteOut:
    return await activities.add_note(session, actor, body, client_id=client_id)


@router.get("/clients/{client_id}/timeline", response_model=Page[TimelineItem])
async def client_timeline(
    client_id: int,
    session: Session,
    offset: Offset = 0,
    limit: Limit = 100,
    principal: Principal = require("clients", "view"),
) -> Page[TimelineItem]:
    return await timeline.client_timeline(session, principal, client_id, offset, limit)


@router.get("/clients/{client_id}/summary", response_model=ClientSummaryOut)
async def client_summary(
    client_id: int,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=100, description="newest records per area")] = 25,
    principal: Principal = require("clients", "view"),
) -> ClientSummaryOut:
    """The client's deals, proposals, invoices (open balance), payments, tickets and sales orders:
    totals per area and its newest records; an area the role may not view is absent (null)."""
    return await summary.client_summary(session, principal, client_id, limit)
