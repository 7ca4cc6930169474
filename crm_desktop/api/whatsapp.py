"""Typed calls of WhatsApp (crm_server.contract.whatsapp): a lead's or client's conversation state
(opt-in, the 24-hour window, approved templates), recording opt-in, its messages and sending one;
the templates and their sync from the Cloud API. A change announces CHANGED."""

from __future__ import annotations

from typing import Literal

from crm_desktop.api.client import ApiClient
from crm_server.contract.whatsapp import Conversation, MessageIn, MessageOut, OptInIn, OptInOut, TemplateOut

CHANGED = frozenset({"whatsapp", "leads", "clients"})
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
