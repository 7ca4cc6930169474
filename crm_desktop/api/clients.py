"""Typed calls for clients and their contacts; the wire models come from crm_server.contract.clients.
Dates arrive parsed (datetime).

    client = await clients.get_client(api, 3)
    operations.run(self, clients.update_client(api, 3, ClientUpdate(...)), changed=clients.CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
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

# What a change announces on the change bus (operations.run(..., changed=...)).
CHANGED = frozenset({"clients", "clients.client"})
CONTACTS_CHANGED = frozenset({"clients", "clients.contact"})
NOTES_CHANGED = frozenset({"clients", "clients.note"})
# The areas a client's summary (its window's deals, proposals, invoices... tabs) is made of: a change
# announced in one of them (mine or, through the live stream, a colleague's) refreshes the summary.
SUMMARY_AREAS = frozenset({"leads", "proposals", "invoices", "payments", "tickets", "orders"})

_PAGE = TypeAdapter(Page[ClientOut])
_TIMELINE_PAGE = TypeAdapter(Page[TimelineItem])


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


async def list_clients(api: ApiClient, query: ClientQuery) -> Page[ClientOut]:
    params = query.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return _PAGE.validate_python(await api.get("/api/clients", **params))


async def create_client(api: ApiClient, client: ClientIn) -> ClientOut:
    return ClientOut.model_validate(await api.post("/api/clients", _body(client)))


async def get_client(api: ApiClient, client_id: int) -> ClientOut:
    return ClientOut.model_validate(await api.get(f"/api/clients/{client_id}"))


async def update_client(api: ApiClient, client_id: int, changes: ClientUpdate) -> ClientOut:
    return ClientOut.model_validate(await api.patch(f"/api/clients/{client_id}", _body(changes)))


async def archive_client(api: ApiClient, client_id: int, version: int) -> ClientOut:
    answer = await api.post(f"/api/clients/{client_id}/archive", _body(VersionIn(version=version)))
    return ClientOut.model_validate(answer)


async def restore_client(api: ApiClient, client_id: int, version: int) -> ClientOut:
    answer = await api.post(f"/api/clients/{client_id}/restore", _body(VersionIn(version=version)))
    return ClientOut.model_validate(answer)


async def add_contact(api: ApiClient, client_id: int, contact: ContactIn) -> ContactOut:
    return ContactOut.model_validate(await api.post(f"/api/clients/{client_id}/contacts", _body(contact)))


async def update_contact(api: ApiClient, contact_id: int, changes: ContactUpdate) -> ContactOut:
    return ContactOut.model_validate(await api.patch(f"/api/contacts/{contact_id}", _body(changes)))


async def delete_contact(api: ApiClient, contact_id: int) -> Ok:
    return Ok.model_validate(await api.delete(f"/api/contacts/{contact_id}"))


async def add_note(api: ApiClient, client_id: int, note: NoteIn) -> NoteOut:
    return NoteOut.model_validate(await api.post(f"/api/clients/{client_id}/notes", _body(note)))


async def timeline(api: ApiClient, client_id: int, offset: int = 0, limit: int = 100) -> Page[TimelineItem]:
    answer = await api.get(f"/api/clients/{client_id}/timeline", offset=offset, limit=limit)
    return _TIMELINE_PAGE.validate_python(answer)


async def summary(api: ApiClient, client_id: int, limit: int = 25) -> ClientSummaryOut:
    """The client's deals, proposals, invoices, payments, tickets and orders: totals and newest records."""
    return ClientSummaryOut.model_validate(await api.get(f"/api/clients/{client_id}/summary", limit=limit))
