"""Typed calls of e-mail from the CRM (crm_server.contract.emails): templates, preview against a
record, send from a record or a test to oneself, the sender identity, the suppression list. A change
announces CHANGED (record timelines and the admin pages read them)."""

from __future__ import annotations

from urllib.parse import urlencode

from crm_desktop.api.client import ApiClient
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

CHANGED = frozenset({"emails", "leads", "clients", "tickets"})


async def templates(api: ApiClient, entity: EmailEntity | None = None) -> list[TemplateOut]:
    params = {"entity": entity.value} if entity is not None else {}
    return [TemplateOut.model_validate(t) for t in await api.get("/api/emails/templates", **params)]


async def save_template(api: ApiClient, template: TemplateIn, template_id: int | None = None) -> TemplateOut:
    body = template.model_dump(mode="json")
    if template_id is None:
        return TemplateOut.model_validate(await api.post("/api/emails/templates", body))
    return TemplateOut.model_validate(await api.put(f"/api/emails/templates/{template_id}", body))


async def delete_template(api: ApiClient, template_id: int) -> None:
    await api.delete(f"/api/emails/templates/{template_id}")


async def preview(api: ApiClient, entity: EmailEntity, data: PreviewIn) -> PreviewOut:
    return PreviewOut.model_validate(
        await api.post(f"/api/emails/preview/{entity.value}", data.model_dump(mode="json", exclude_none=True))
    )


async def send(api: ApiClient, data: ComposeIn) -> OutboundOut:
    return OutboundOut.model_validate(await api.post("/api/emails/send", data.model_dump(mode="json")))


async def send_test(api: ApiClient, data: ComposeIn) -> OutboundOut:
    return OutboundOut.model_validate(await api.post("/api/emails/send-test", data.model_dump(mode="json")))


async def record_emails(api: ApiClient, entity: EmailEntity, entity_id: int) -> list[OutboundOut]:
    return [OutboundOut.model_validate(e) for e in await api.get(f"/api/emails/records/{entity.value}/{entity_id}")]


async def identity(api: ApiClient) -> IdentityOut:
    return IdentityOut.model_validate(await api.get("/api/emails/identity"))


async def save_identity(api: ApiClient, data: IdentityIn) -> IdentityOut:
    return IdentityOut.model_validate(await api.put("/api/emails/identity", data.model_dump(mode="json")))


async def suppressions(api: ApiClient, q: str = "", offset: int = 0, limit: int = 100) -> Page[SuppressionOut]:
    params: dict[str, object] = {"offset": offset, "limit": limit}
    if q:
        params["q"] = q
    return Page[SuppressionOut].model_validate(await api.get("/api/emails/suppressions", **params))


async def suppress(api: ApiClient, data: SuppressionIn) -> SuppressionOut:
    return SuppressionOut.model_validate(await api.post("/api/emails/suppressions", data.model_dump(mode="json")))


async def unsuppress(api: ApiClient, suppression_id: int) -> None:
    await api.delete(f"/api/emails/suppressions/{suppression_id}")


async def export_suppressions(api: ApiClient, target: str, q: str = "") -> int:
    """The suppression list (searched as shown) as CSV into the file `target`; returns its size."""
    query = f"?{urlencode({'q': q})}" if q else ""
    return await api.download(f"/api/emails/suppressions.csv{query}", target)


# --- DKIM and the DNS records (admin) ---


async def dkim(api: ApiClient) -> DkimOut:
    return DkimOut.model_validate(await api.get("/api/emails/dkim"))


async def new_dkim_key(api: ApiClient) -> DkimOut:
    return DkimOut.model_validate(await api.post("/api/emails/dkim/key"))


async def check_dkim(api: ApiClient) -> DkimCheckOut:
    return DkimCheckOut.model_validate(await api.post("/api/emails/dkim/check"))
