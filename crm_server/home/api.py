"""HTTP route of Home: the signed-in person's widgets."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm_server.auth.permissions import Principal
from crm_server.contract.home import HomeOut
from crm_server.home import service
from crm_server.routing import Session, TxRoute, signed_in

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["home"])


@router.get("/home", response_model=HomeOut)
async def home(request: Request, session: Session, principal: Principal = signed_in()) -> HomeOut:
    """The widgets of the signed-in person's role, each figure in their scope."""
    return await service.home(session, principal, timings=request.app.state.timings)
