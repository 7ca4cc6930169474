"""Typed calls of the stock area: warehouses, stock documents (receipts, deliveries, transfers,
adjustments) and their moves, the levels, low stock, a product's stock and history, and
reservations. The wire models come from crm_server.contract.stock; quantities arrive as Decimal.

    page = await stock.list_levels(api, LevelQuery(low_only=True))
    operations.run(self, stock.validate_document(api, d.id, d.version), changed=stock.DOCUMENTS_CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
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

# What each kind of change announces on the change bus (operations.run(..., changed=...)).
WAREHOUSES_CHANGED = frozenset({"stock", "stock.warehouse"})
DOCUMENTS_CHANGED = frozenset({"stock", "stock.stock_document"})
SETTINGS_CHANGED = frozenset({"stock", "stock.stock_product_settings"})
RESERVATIONS_CHANGED = frozenset({"stock", "stock.stock_reservation"})
CHANGED = WAREHOUSES_CHANGED | DOCUMENTS_CHANGED | SETTINGS_CHANGED | RESERVATIONS_CHANGED
# Lists that show stock reload on these: a stock change, or purchasing (receiving, incoming goods).
WATCHED = frozenset({"*", "stock", "purchasing"})
# The warehouse choices are read again after these.
WAREHOUSES_WATCHED = frozenset({"*", "stock.warehouse"})

_WAREHOUSES = TypeAdapter(list[WarehouseOut])
_DOCUMENT_PAGE = TypeAdapter(Page[StockDocumentOut])
_LEVEL_PAGE = TypeAdapter(Page[LevelOut])
_LOW_PAGE = TypeAdapter(Page[LowStockOut])
_MOVE_PAGE = TypeAdapter(Page[MoveOut])
_RESERVATION_PAGE = TypeAdapter(Page[ReservationOut])
_RESERVATIONS = TypeAdapter(list[ReservationOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def body(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: the fields set, so a PATCH changes only what it names. A form may
    hand over what a person typed unchecked (`StockDocumentIn.model_construct(...)`): the server then
    judges it, and its refusal names the field next to which the form shows it."""
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


# --- warehouses ----------------------------------------------------------------------------------


async def list_warehouses(api: ApiClient, include_inactive: bool = True) -> list[WarehouseOut]:
    return _WAREHOUSES.validate_python(await api.get("/api/warehouses", include_inactive=include_inactive))


async def create_warehouse(api: ApiClient, warehouse: WarehouseIn) -> WarehouseOut:
    return WarehouseOut.model_validate(await api.post("/api/warehouses", body(warehouse)))


async def update_warehouse(api: ApiClient, warehouse_id: int, changes: WarehouseUpdate) -> WarehouseOut:
    return WarehouseOut.model_validate(await api.patch(f"/api/warehouses/{warehouse_id}", body(changes)))


# --- documents -----------------------------------------------------------------------------------


async def list_documents(api: ApiClient, query: DocumentQuery) -> Page[StockDocumentOut]:
    return _DOCUMENT_PAGE.validate_python(await api.get("/api/stock/documents", **params(query)))


async def get_document(api: ApiClient, document_id: int) -> StockDocumentOut:
    return StockDocumentOut.model_validate(await api.get(f"/api/stock/documents/{document_id}"))


async def create_document(api: ApiClient, document: StockDocumentIn) -> StockDocumentOut:
    return StockDocumentOut.model_validate(await api.post("/api/stock/documents", body(document)))


async def update_document(api: ApiClient, document_id: int, changes: StockDocumentUpdate) -> StockDocumentOut:
    """A draft's changes; `lines`, when set, replace all lines."""
    answer = await api.patch(f"/api/stock/documents/{document_id}", body(changes))
    return StockDocumentOut.model_validate(answer)


async def validate_document(api: ApiClient, document_id: int, version: int) -> StockDocumentOut:
    answer = await api.post(f"/api/stock/documents/{document_id}/validate", body(VersionIn(version=version)))
    return StockDocumentOut.model_validate(answer)


async def reverse_document(api: ApiClient, document_id: int, version: int) -> StockDocumentOut:
    """Answers the new reversing document."""
    answer = await api.post(f"/api/stock/documents/{document_id}/reverse", body(VersionIn(version=version)))
    return StockDocumentOut.model_validate(answer)


async def cancel_document(api: ApiClient, document_id: int, version: int) -> StockDocumentOut:
    answer = await api.post(f"/api/stock/documents/{document_id}/cancel", body(VersionIn(version=version)))
    return StockDocumentOut.model_validate(answer)


# --- levels, a product's stock, history ----------------------------------------------------------


async def list_levels(api: ApiClient, query: LevelQuery) -> Page[LevelOut]:
    return _LEVEL_PAGE.validate_python(await api.get("/api/stock/levels", **params(query)))


async def low_stock(api: ApiClient, q: str | None = None, offset: int = 0, limit: int = 100) -> Page[LowStockOut]:
    query: dict[str, Any] = {"offset": offset, "limit": limit} | ({"q": q} if q else {})
    return _LOW_PAGE.validate_python(await api.get("/api/stock/low", **query))


async def lookup(api: ApiClient, sku: str) -> ProductStockOut:
    """A product by its SKU or barcode (404 when there is none)."""
    return ProductStockOut.model_validate(await api.get("/api/stock/lookup", sku=sku))


async def product_stock(api: ApiClient, product_id: int) -> ProductStockOut:
    return ProductStockOut.model_validate(await api.get(f"/api/stock/products/{product_id}"))


async def set_product_settings(api: ApiClient, product_id: int, settings: ProductStockSettingsIn) -> ProductStockOut:
    """None as the threshold removes it; a threshold as typed may come unchecked (model_construct)."""
    answer = await api.put(
        f"/api/stock/products/{product_id}/settings", settings.model_dump(mode="json", warnings=False)
    )
    return ProductStockOut.model_validate(answer)


async def stock_history(api: ApiClient, product_id: int, query: HistoryQuery) -> Page[MoveOut]:
    return _MOVE_PAGE.validate_python(await api.get(f"/api/products/{product_id}/stock-history", **params(query)))


# --- reservations --------------------------------------------------------------------------------


async def list_reservations(api: ApiClient, query: ReservationQuery) -> Page[ReservationOut]:
    return _RESERVATION_PAGE.validate_python(await api.get("/api/stock/reservations", **params(query)))


async def reserve(api: ApiClient, request: ReserveIn) -> list[ReservationOut]:
    """Answers everything the source document now holds."""
    return _RESERVATIONS.validate_python(await api.post("/api/stock/reservations", body(request)))


async def release(api: ApiClient, request: ReleaseIn) -> list[ReservationOut]:
    """Answers what the source document still holds."""
    return _RESERVATIONS.validate_python(await api.post("/api/stock/reservations/release", body(request)))
