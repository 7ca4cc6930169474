"""HTTP routes of proposals: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.invoices import InvoiceOut
from crm_server.contract.proposals import (
    ConversionOut,
    ProposalIn,
    ProposalOut,
    ProposalQuery,
    ProposalUpdate,
    StatusIn,
)
from crm_server.documents.sources import render_proposal
from crm_server.invoices import service as invoices
from crm_server.invoices.api import pdf_response
from crm_server.proposals import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["proposals"])


@router.get("/proposals", response_model=Page[ProposalOut])
async def list_proposals(
    session: Session, query: Annotated[ProposalQuery, Query()], principal: Principal = require("proposals", "view")
) -> Page[ProposalOut]:
    return await service.list_proposals(session, principal, query)


@router.post("/proposals", response_model=ProposalOut, status_code=201)
async def create_proposal(
    body: ProposalIn, session: Session, actor: Principal = require("proposals", "create")
) -> ProposalOut:
    return await service.proposal_out(session, await service.create_proposal(session, actor, body))


@router.get("/proposals/{proposal_id}", response_model=ProposalOut)
async def get_proposal(
    proposal_id: int, session: Session, principal: Principal = require("proposals", "view")
) -> ProposalOut:
    return await service.proposal_out(session, await service.visible_proposal(session, principal, proposal_id))


@router.patch("/proposals/{proposal_id}", response_model=ProposalOut)
async def update_proposal(
    proposal_id: int, body: ProposalUpdate, session: Session, actor: Principal = require("proposals", "edit")
) -> ProposalOut:
    return await service.proposal_out(session, await service.update_proposal(session, actor, proposal_id, body))


@router.post("/proposals/{proposal_id}/status", response_model=ProposalOut)
async def set_status(
    proposal_id: int, body: StatusIn, session: Session, actor: Principal = require("proposals", "edit")
) -> ProposalOut:
    return await service.proposal_out(session, await service.set_status(session, actor, proposal_id, body))


@router.get("/proposals/{proposal_id}/conversion", response_model=ConversionOut)
async def conversion(
    proposal_id: int, session: Session, principal: Principal = require("proposals", "view")
) -> ConversionOut:
    return await service.conversion(session, principal, proposal_id)


@router.post("/proposals/{proposal_id}/convert", response_model=InvoiceOut, status_code=201)
async def convert(proposal_id: int, session: Session, actor: Principal = require("proposals", "edit")) -> InvoiceOut:
    """The invoice draft made from the proposal (invoices.create is checked by the service, so the
    refusal names it)."""
    return await invoices.invoice_out(session, await service.convert(session, actor, proposal_id))


@router.get(
    "/proposals/{proposal_id}/pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}}
)
async def proposal_pdf(
    proposal_id: int, session: Session, principal: Principal = require("proposals", "view")
) -> Response:
    """The proposal as a PDF, with its valid-until date."""
    return pdf_response(
        *await render_proposal(session, await service.visible_proposal(session, principal, proposal_id))
    )
