"""HTTP routes of the payments list (payments are recorded under /api/invoices/{id}/payments)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.payments import PaymentQuery, PaymentRow
from crm_server.payments import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["payments"])


@router.get("/payments", response_model=Page[PaymentRow])
async def list_payments(
    session: Session, query: Annotated[PaymentQuery, Query()], principal: Principal = require("payments", "view")
) -> Page[PaymentRow]:
    return await service.list_payments(session, principal, query)
