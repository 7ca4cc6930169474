"""Typed calls of commissions (crm_server.contract.commissions): policies, the commissions list,
approve / mark paid / add by hand, and the payout report. A change announces CHANGED."""

from __future__ import annotations

from datetime import date

from pydantic import TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_desktop.api.invoices import params
from crm_server.contract.commissions import (
    CommissionOut,
    CommissionQuery,
    ManualIn,
    PayoutOut,
    PolicyIn,
    PolicyOut,
    PolicyUpdate,
)
from crm_server.contract.common import Page

CHANGED = frozenset({"commissions"})

_PAGE = TypeAdapter(Page[CommissionOut])
_POLICIES = TypeAdapter(list[PolicyOut])


async def list_commissions(api: ApiClient, query: CommissionQuery | None = None) -> Page[CommissionOut]:
    """A page of the commissions this user sees (newest first without a query)."""
    return _PAGE.validate_python(await api.get("/api/commissions", **params(query or CommissionQuery())))


async def approve(api: ApiClient, commission_id: int) -> CommissionOut:
    return CommissionOut.model_validate(await api.post(f"/api/commissions/{commission_id}/approve"))


async def mark_paid(api: ApiClient, commission_id: int) -> CommissionOut:
    return CommissionOut.model_validate(await api.post(f"/api/commissions/{commission_id}/pay"))


async def add_manual(api: ApiClient, body: ManualIn) -> CommissionOut:
    return CommissionOut.model_validate(await api.post("/api/commissions", body.model_dump(mode="json")))


async def payouts(api: ApiClient, month_from: date, month_to: date) -> PayoutOut:
    """Per beneficiary and month: pending, approved, paid."""
    answer = await api.get("/api/commissions/payouts", month_from=month_from.isoformat(), month_to=month_to.isoformat())
    return PayoutOut.model_validate(answer)


async def list_policies(api: ApiClient) -> list[PolicyOut]:
    return _POLICIES.validate_python(await api.get("/api/commissions/policies"))


async def create_policy(api: ApiClient, body: PolicyIn) -> PolicyOut:
    return PolicyOut.model_validate(await api.post("/api/commissions/policies", body.model_dump(mode="json")))


async def update_policy(api: ApiClient, policy_id: int, body: PolicyUpdate) -> PolicyOut:
    answer = await api.put(f"/api/commissions/policies/{policy_id}", body.model_dump(mode="json"))
    return PolicyOut.model_validate(answer)
