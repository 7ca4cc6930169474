"""Typed calls of the purchasing area: purchase orders, their confirmation, receiving (which makes a
validated stock receipt) and cancellation, and an order's receipts. The wire models come from
crm_server.contract.purchasing; money and quantities arrive as Decimal.

    order = await purchasing.get_order(api, 7)
    operations.run(self, purchasing.confirm_order(api, order.id, order.version), changed=purchasing.CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api import stock
from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.purchasing import (
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderQuery,
    PurchaseOrderUpdate,
    ReceiveIn,
    ReceiveOut,
)
from crm_server.contract.stock import StockDocumentOut

# What a change to a purchase order announces on the change bus (operations.run(..., changed=CHANGED)).
CHANGED = frozenset({"purchasing", "purchasing.purchase_order"})
# Receiving changes the order and makes a validated stock receipt: both are announced.
RECEIVED = CHANGED | stock.DOCUMENTS_CHANGED
# Purchase order lists reload on these (a receipt reversed on the stock side changes what is received).
WATCHED = frozenset({"*"}) | CHANGED | stock.DOCUMENTS_CHANGED

_ORDER_PAGE = TypeAdapter(Page[PurchaseOrderOut])
_DOCUMENT_PAGE = TypeAdapter(Page[StockDocumentOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def body(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: the fields set, so a PATCH changes only what it names. A form may
    hand over what a person typed unchecked (`PurchaseOrderIn.model_construct(...)`): the server
    then judges it, and its refusal names the field next to which the form shows it."""
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


async def list_orders(api: ApiClient, query: PurchaseOrderQuery) -> Page[PurchaseOrderOut]:
    return _ORDER_PAGE.validate_python(await api.get("/api/purchase-orders", **params(query)))


async def get_order(api: ApiClient, order_id: int) -> PurchaseOrderOut:
    return PurchaseOrderOut.model_validate(await api.get(f"/api/purchase-orders/{order_id}"))


async def create_order(api: ApiClient, order: PurchaseOrderIn) -> PurchaseOrderOut:
    return PurchaseOrderOut.model_validate(await api.post("/api/purchase-orders", body(order)))


async def update_order(api: ApiClient, order_id: int, changes: PurchaseOrderUpdate) -> PurchaseOrderOut:
    """A draft's changes; `lines`, when set, replace all lines."""
    return PurchaseOrderOut.model_validate(await api.patch(f"/api/purchase-orders/{order_id}", body(changes)))


async def confirm_order(api: ApiClient, order_id: int, version: int) -> PurchaseOrderOut:
    answer = await api.post(f"/api/purchase-orders/{order_id}/confirm", body(VersionIn(version=version)))
    return PurchaseOrderOut.model_validate(answer)


async def receive(api: ApiClient, order_id: int, request: ReceiveIn) -> ReceiveOut:
    """Receive some or all of what is still open; answers the order and the receipt it made."""
    return ReceiveOut.model_validate(await api.post(f"/api/purchase-orders/{order_id}/receive", body(request)))


async def cancel_order(api: ApiClient, order_id: int, version: int) -> PurchaseOrderOut:
    answer = await api.post(f"/api/purchase-orders/{order_id}/cancel", body(VersionIn(version=version)))
    return PurchaseOrderOut.model_validate(answer)


async def receipts(api: ApiClient, order_id: int) -> Page[StockDocumentOut]:
    """The order's receipt documents (and their reversals), oldest first."""
    return _DOCUMENT_PAGE.validate_python(await api.get(f"/api/purchase-orders/{order_id}/receipts"))
