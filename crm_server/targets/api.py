"""HTTP routes of sales targets (/api/reports/targets): list a month, set one, remove one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.targets import TargetIn, TargetOut, TargetsOut
from crm_server.routing import Session, TxRoute, require
from crm_server.targets import service

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["reports"])


@router.get("/reports/targets", response_model=TargetsOut)
async def list_targets(
    session: Session,
    month: Annotated[date, Query(description="any day of the month")],
    principal: Principal = require("reports", "view"),
) -> TargetsOut:
    """The teams and people in the viewer's scope with their target for the month and what they won."""
    return await service.list_targets(session, principal, month)


@router.put("/reports/targets", response_model=TargetOut)
async def put_target(body: TargetIn, session: Session, principal: Principal = require("reports", "view")) -> TargetOut:
    """Set a person's or a team's target for a month (managers and admins)."""
    return await service.put_target(session, principal, body)


@router.delete("/reports/targets/{target_id}", status_code=204)
async def remove_target(
    session: Session,
    target_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: Principal = require("reports", "view"),
) -> None:
    """Remove a target (managers and admins)."""
    await service.remove_target(session, principal, target_id)
