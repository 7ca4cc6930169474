"""Typed calls of partners (crm_server.contract.partners): partner companies with their managing
salesperson, their portal users and invitations, and the partner a lead is credited to. A change
announces CHANGED (the Admin > Partners page and the lead window read them)."""

from __future__ import annotations

from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page
from crm_server.contract.partners import (
    InviteOut,
    LeadPartnerOut,
    PartnerIn,
    PartnerOut,
    PartnerUserIn,
    PartnerUserOut,
    ReviewOut,
)

CHANGED = frozenset({"admin.partners"})
_PARTNERS = TypeAdapter(Page[PartnerOut])
_USERS = TypeAdapter(list[PartnerUserOut])
_REVIEWS = TypeAdapter(list[ReviewOut])


async def list_partners(api: ApiClient, q: str = "", offset: int = 0, limit: int = 200) -> Page[PartnerOut]:
    return _PARTNERS.validate_python(await api.get("/api/partners", q=q, offset=offset, limit=limit))


async def create_partner(api: ApiClient, body: PartnerIn) -> PartnerOut:
    return PartnerOut.model_validate(await api.post("/api/partners", body.model_dump(mode="json")))


async def update_partner(api: ApiClient, partner_id: int, body: PartnerIn) -> PartnerOut:
    return PartnerOut.model_validate(await api.put(f"/api/partners/{partner_id}", body.model_dump(mode="json")))


async def list_users(api: ApiClient, partner_id: int) -> list[PartnerUserOut]:
    return _USERS.validate_python(await api.get(f"/api/partners/{partner_id}/users"))


async def create_user(api: ApiClient, partner_id: int, body: PartnerUserIn) -> PartnerUserOut:
    answer = await api.post(f"/api/partners/{partner_id}/users", body.model_dump(mode="json"))
    return PartnerUserOut.model_validate(answer)


async def update_user(api: ApiClient, partner_id: int, user_id: int, body: PartnerUserIn) -> PartnerUserOut:
    answer = await api.put(f"/api/partners/{partner_id}/users/{user_id}", body.model_dump(mode="json"))
    return PartnerUserOut.model_validate(answer)


async def invite(api: ApiClient, partner_id: int, user_id: int) -> InviteOut:
    """E-mail the user a single-use link to the portal (sent by a server job)."""
    return InviteOut.model_validate(await api.post(f"/api/partners/{partner_id}/users/{user_id}/invite"))


async def lead_partner(api: ApiClient, lead_id: int) -> LeadPartnerOut:
    return LeadPartnerOut.model_validate(await api.get(f"/api/leads/{lead_id}/partner"))


async def waiting(api: ApiClient) -> list[ReviewOut]:
    """Registrations waiting for review (a weak match with an existing lead), oldest first."""
    return _REVIEWS.validate_python(await api.get("/api/partners/registrations"))


async def accept(api: ApiClient, registration_id: int) -> ReviewOut:
    """Make the lead and credit it to the partner."""
    return ReviewOut.model_validate(await api.post(f"/api/partners/registrations/{registration_id}/accept"))


async def reject(api: ApiClient, registration_id: int) -> ReviewOut:
    return ReviewOut.model_validate(await api.post(f"/api/partners/registrations/{registration_id}/reject"))
