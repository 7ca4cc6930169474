"""HTTP routes of stock: warehouses, documents, balances, history and reservations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.stock import (
    DocumentQuery,
    HistoryQuery,
    LevelOut,
    LevelQuery,
    LowStockOut,
    MoveOut,
    ProductStockOut,
    ProductStockSettingsIn,
    ReleaseIn,
    ReservationOut,
    ReservationQuery,
    ReserveIn,
    StockDocumentIn,
    StockDocumentOut,
    StockDocumentUpdate,
    WarehouseIn,
    WarehouseOut,
    WarehouseUpdate,
)
from crm_server.routing import Session, TxRoute, require
from crm_server.stock import queries, service

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["stock"])


# --- warehouses ----------------------------------------------------------------------------------


@router.get("/warehouses", response_model=list[WarehouseOut], dependencies=[require("stock", "view")])
async def list_warehouses(session: Session, include_inactive: bool = True) -> list[WarehouseOut]:
    return await service.list_warehouses(session, include_inactive)


@router.post("/warehouses", response_model=WarehouseOut, status_code=201)
async def create_warehouse(
    body: WarehouseIn, session: Session, actor: Principal = require("stock", "create")
) -> WarehouseOut:
    return await service.create_warehouse(session, actor, body)


@router.patch("/warehouses/{warehouse_id}", response_model=WarehouseOut)
async def update_warehouse(
    warehouse_id: int, body: WarehouseUpdate, session: Session, actor: Principal = require("stock", "edit")
) -> WarehouseOut:
    return await service.update_warehouse(session, actor, warehouse_id, body)


# --- documents -----------------------------------------------------------------------------------


@router.get("/stock/documents", response_model=Page[StockDocumentOut], dependencies=[require("stock", "view")])
async def list_documents(session: Session, query: Annotated[DocumentQuery, Query()]) -> Page[StockDocumentOut]:
    return await service.list_documents(session, query)


@router.post("/stock/documents", response_model=StockDocumentOut, status_code=201)
async def create_document(
    body: StockDocumentIn, session: Session, actor: Principal = require("stock", "create")
) -> StockDocumentOut:
    return await service.document_out(session, await service.create_document(session, actor, body))


@router.get("/stock/documents/{document_id}", response_model=StockDocumentOut, dependencies=[require("stock", "view")])
async def get_document(document_id: int, session: Session) -> StockDocumentOut:
    return await service.document_out(session, await service.get_document(session, document_id))


@router.patch("/stock/documents/{document_id}", response_model=StockDocumentOut)
async def update_document(
    document_id: int, body: StockDocumentUpdate, session: Session, actor: Principal = require("stock", "edit")
) -> StockDocumentOut:
    return await service.document_out(session, await service.update_document(session, actor, document_id, body))


@router.post("/stock/documents/{document_id}/validate", response_model=StockDocumentOut)
async def validate_document(
    document_id: int, body: VersionIn, session: Session, actor: Principal = require("stock", "edit")
) -> StockDocumentOut:
    document = await service.validate_document(session, actor, document_id, body.version)
    return await service.document_out(session, document)


@router.post("/stock/documents/{document_id}/reverse", response_model=StockDocumentOut, status_code=201)
async def reverse_document(
    document_id: int, body: VersionIn, session: Session, actor: Principal = require("stock", "edit")
) -> StockDocumentOut:
    """Answers the new, validated reversal document."""
    return await service.document_out(
        session, await service.reverse_document(session, actor, document_id, body.version)
    )


@router.post("/stock/documents/{document_id}/cancel", response_model=StockDocumentOut)
async def cancel_document(
    document_id: int, body: VersionIn, session: Session, actor: Principal = require("stock", "edit")
) -> StockDocumentOut:
    return await service.document_out(session, await service.cancel_document(session, actor, document_id, body.version))


# --- balances, history ---------------------------------------------------------------------------


@router.get("/stock/levels", response_model=Page[LevelOut], dependencies=[require("stock", "view")])
async def levels(session: Session, query: Annotated[LevelQuery, Query()]) -> Page[LevelOut]:
    return await queries.levels(session, query)


@router.get("/stock/low", response_model=Page[LowStockOut], dependencies=[require("stock", "view")])
async def low_stock(
    session: Session,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[LowStockOut]:
    return await queries.low_stock(session, q, offset, limit)


@router.get("/stock/lookup", response_model=ProductStockOut, dependencies=[require("stock", "view")])
async def lookup(session: Session, sku: str) -> ProductStockOut:
    return await queries.lookup(session, sku)


@router.get("/stock/products/{product_id}", response_model=ProductStockOut, dependencies=[require("stock", "view")])
async def product_stock(product_id: int, session: Session) -> ProductStockOut:
    return await queries.product_stock(session, await queries.get_product(session, product_id))


@router.put("/stock/products/{product_id}/settings", response_model=ProductStockOut)
async def set_product_settings(
    product_id: int, body: ProductStockSettingsIn, session: Session, actor: Principal = require("stock", "edit")
) -> ProductStockOut:
    return await queries.set_product_settings(session, actor, product_id, body)


@router.get(
    "/products/{product_id}/stock-history", response_model=Page[MoveOut], dependencies=[require("stock", "view")]
)
async def stock_history(product_id: int, session: Session, query: Annotated[HistoryQuery, Query()]) -> Page[MoveOut]:
    return await queries.history(session, product_id, query)


# --- reservations --------------------------------------------------------------------------------


@router.get("/stock/reservations", response_model=Page[ReservationOut], dependencies=[require("stock", "view")])
async def list_reservations(session: Session, query: Annotated[ReservationQuery, Query()]) -> Page[ReservationOut]:
    return await service.list_reservations(session, query)


@router.post("/stock/reservations", response_model=list[ReservationOut])
async def reserve(
    body: ReserveIn, session: Session, actor: Principal = require("stock", "create")
) -> list[ReservationOut]:
    """Answers everything the source document now holds."""
    return await service.reserve(session, actor, body)


@router.post("/stock/reservations/release", response_model=list[ReservationOut])
async def release(
    body: ReleaseIn, session: Session, actor: Principal = require("stock", "edit")
) -> list[ReservationOut]:
    """Answers what the source document still holds."""
    return await service.release(session, actor, body)
