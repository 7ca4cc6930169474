"""Typed calls of the proposals area: the list, a proposal, its status moves, whether it can become
an invoice and the conversion, and its PDF. The wire models come from crm_server.contract.proposals.

    proposal = await proposals.get_proposal(api, 7)
    operations.run(self, proposals.convert(api, 7), changed=proposals.CHANGED | invoices.CHANGED)

A form may hand over what a person typed unchecked (`ProposalIn.model_construct(**values)`): the
server then judges it, and its refusal names the field next to which the form shows it.
"""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_desktop.api.invoices import body, params
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

# What a change to a proposal announces on the change bus (a conversion also announces invoices.CHANGED).
CHANGED = frozenset({"proposals", "proposals.proposal"})

_PROPOSAL_PAGE = TypeAdapter(Page[ProposalOut])


async def list_proposals(api: ApiClient, query: ProposalQuery | None = None) -> Page[ProposalOut]:
    """A page of the proposals this user sees (the first 100, newest first, without a query)."""
    return _PROPOSAL_PAGE.validate_python(await api.get("/api/proposals", **params(query or ProposalQuery())))


async def create_proposal(api: ApiClient, proposal: ProposalIn) -> ProposalOut:
    return ProposalOut.model_validate(await api.post("/api/proposals", body(proposal)))


async def get_proposal(api: ApiClient, proposal_id: int) -> ProposalOut:
    return ProposalOut.model_validate(await api.get(f"/api/proposals/{proposal_id}"))


async def update_proposal(api: ApiClient, proposal_id: int, changes: ProposalUpdate) -> ProposalOut:
    """Only the fields set are sent; `lines`, when set, replace all lines."""
    return ProposalOut.model_validate(await api.patch(f"/api/proposals/{proposal_id}", body(changes)))


async def set_status(api: ApiClient, proposal_id: int, move: StatusIn) -> ProposalOut:
    return ProposalOut.model_validate(await api.post(f"/api/proposals/{proposal_id}/status", body(move)))


async def conversion(api: ApiClient, proposal_id: int) -> ConversionOut:
    """Whether it can become an invoice draft now, and if not, why."""
    return ConversionOut.model_validate(await api.get(f"/api/proposals/{proposal_id}/conversion"))


async def convert(api: ApiClient, proposal_id: int) -> InvoiceOut:
    """The invoice draft made from the accepted proposal."""
    return InvoiceOut.model_validate(await api.post(f"/api/proposals/{proposal_id}/convert"))


async def pdf(api: ApiClient, proposal_id: int) -> bytes:
    response: httpx.Response = await api.request("GET", f"/api/proposals/{proposal_id}/pdf", raw=True)
    return response.content


__all__ = [
    "CHANGED",
    "conversion",
    "convert",
    "create_proposal",
    "get_proposal",
    "list_proposals",
    "pdf",
    "set_status",
    "update_proposal",
]
