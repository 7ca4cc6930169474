"""HTTP routes of sales orders (read-only: the store makes and changes them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page
from crm_server.contract.orders import OrderOut, OrderQuery
from crm_server.orders import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["orders"])


@router.get("/orders", response_model=Page[OrderOut])
async def list_orders(
    session: Session, query: Annotated[OrderQuery, Query()], principal: Principal = require("orders", "view")
) -> Page[OrderOut]:
    return await service.list_orders(session, principal, query)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: int, session: Session, principal: Principal = require("orders", "view")) -> OrderOut:
    return await service.order_out(session, await service.visible_order(session, principal, order_id))
