"""HTTP routes of reports: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.reports import SalesQuery, SalesReportOut
from crm_server.reports import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["reports"])


@router.get("/reports/sales", response_model=SalesReportOut)
async def sales_report(
    session: Session, query: Annotated[SalesQuery, Query()], principal: Principal = require("reports", "view")
) -> SalesReportOut:
    """Sales per period by invoice date (accrual) or payment date (cash), with the other basis's total."""
    return await service.sales_report(session, principal, query)
