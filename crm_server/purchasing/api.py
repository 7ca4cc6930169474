"""HTTP routes of purchasing: purchase orders, confirming, receiving, cancelling."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.purchasing import (
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderQuery,
    PurchaseOrderUpdate,
    ReceiveIn,
    ReceiveOut,
)
from crm_server.contract.stock import DocumentQuery, StockDocumentOut
from crm_server.purchasing import service
from crm_server.routing import Session, TxRoute, require
from crm_server.stock import service as stock

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["purchasing"])


@router.get("/purchase-orders", response_model=Page[PurchaseOrderOut], dependencies=[require("purchasing", "view")])
async def list_orders(session: Session, query: Annotated[PurchaseOrderQuery, Query()]) -> Page[PurchaseOrderOut]:
    return await service.list_orders(session, query)


@router.post("/purchase-orders", response_model=PurchaseOrderOut, status_code=201)
async def create_order(
    body: PurchaseOrderIn, session: Session, actor: Principal = require("purchasing", "create")
) -> PurchaseOrderOut:
    return await service.order_out(session, await service.create_order(session, actor, body))


@router.get(
    "/purchase-orders/{order_id}", response_model=PurchaseOrderOut, dependencies=[require("purchasing", "view")]
)
async def get_order(order_id: int, session: Session) -> PurchaseOrderOut:
    return await service.order_out(session, await service.get_order(session, order_id))


@router.patch("/purchase-orders/{order_id}", response_model=PurchaseOrderOut)
async def update_order(
    order_id: int, body: PurchaseOrderUpdate, session: Session, actor: Principal = require("purchasing", "edit")
) -> PurchaseOrderOut:
    return await service.order_out(session, await service.update_order(session, actor, order_id, body))


@router.post("/purchase-orders/{order_id}/confirm", response_model=PurchaseOrderOut)
async def confirm_order(
    order_id: int, body: VersionIn, session: Session, actor: Principal = require("purchasing", "edit")
) -> PurchaseOrderOut:
    return await service.order_out(session, await service.confirm_order(session, actor, order_id, body.version))


@router.post("/purchase-orders/{order_id}/receive", response_model=ReceiveOut)
async def receive(
    order_id: int, body: ReceiveIn, session: Session, actor: Principal = require("purchasing", "edit")
) -> ReceiveOut:
    """Answers the order as it stands now and the validated receipt document."""
    order, receipt = await service.receive(session, actor, order_id, body)
    return ReceiveOut(order=await service.order_out(session, order), receipt=await stock.document_out(session, receipt))


@router.post("/purchase-orders/{order_id}/cancel", response_model=PurchaseOrderOut)
async def cancel_order(
    order_id: int, body: VersionIn, session: Session, actor: Principal = require("purchasing", "edit")
) -> PurchaseOrderOut:
    return await service.order_out(session, await service.cancel_order(session, actor, order_id, body.version))


@router.get(
    "/purchase-orders/{order_id}/receipts",
    response_model=Page[StockDocumentOut],
    dependencies=[require("purchasing", "view")],
)
async def receipts(order_id: int, session: Session) -> Page[StockDocumentOut]:
    """The receipt documents of the order (and their reversals), oldest first."""
    await service.get_order(session, order_id)
    return await stock.list_documents(session, DocumentQuery(purchase_order_id=order_id, sort="created_at", limit=500))
