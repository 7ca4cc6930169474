"""HTTP routes of commissions: policies (/api/commissions/policies), the list, approve, mark paid,
add by hand, and the payout report. Thin: the rules are in service.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from crm_server.auth.permissions import Principal
from crm_server.commissions import payouts, service
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
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["commissions"])
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/commissions/policies", response_model=list[PolicyOut])
async def list_policies(session: Session, principal: Principal = require("commissions", "view")) -> list[PolicyOut]:
    return await service.list_policies(session)


@router.post("/commissions/policies", response_model=PolicyOut, status_code=201)
async def create_policy(
    body: PolicyIn, session: Session, principal: Principal = require("commissions", "view")
) -> PolicyOut:
    """A new policy (admins)."""
    return await service.create_policy(session, principal, body)


@router.put("/commissions/policies/{policy_id}", response_model=PolicyOut)
async def update_policy(
    policy_id: RowId, body: PolicyUpdate, session: Session, principal: Principal = require("commissions", "view")
) -> PolicyOut:
    """Change a policy (admins); commissions already made keep their amounts."""
    return await service.update_policy(session, principal, policy_id, body)


@router.get("/commissions", response_model=Page[CommissionOut])
async def list_commissions(
    session: Session,
    query: Annotated[CommissionQuery, Query()],
    principal: Principal = require("commissions", "view"),
) -> Page[CommissionOut]:
    return await service.list_commissions(session, principal, query)


@router.post("/commissions", response_model=CommissionOut, status_code=201)
async def add_manual(
    body: ManualIn, session: Session, principal: Principal = require("commissions", "create")
) -> CommissionOut:
    """A commission by hand, for an invoice not made from a proposal."""
    return await service.add_manual(session, principal, body)


@router.get("/commissions/payouts", response_model=PayoutOut)
async def payout_report(
    session: Session,
    month_from: Annotated[date, Query(description="any day of the first month")],
    month_to: Annotated[date, Query(description="any day of the last month")],
    principal: Principal = require("commissions", "view"),
) -> PayoutOut:
    return await payouts.payouts(session, principal, month_from, month_to)


@router.post("/commissions/{commission_id}/approve", response_model=CommissionOut)
async def approve(
    commission_id: RowId, session: Session, principal: Principal = require("commissions", "edit")
) -> CommissionOut:
    return await service.approve(session, principal, commission_id)


@router.post("/commissions/{commission_id}/pay", response_model=CommissionOut)
async def mark_paid(
    commission_id: RowId, session: Session, principal: Principal = require("commissions", "view")
) -> CommissionOut:
    """Mark an approved commission paid (finance: who records payments, or admins)."""
    return await service.mark_paid(session, principal, commission_id)
