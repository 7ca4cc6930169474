"""Typed calls of the sales orders area: the web shop's orders (read-only here: the store makes and
changes them). The wire models come from crm_server.contract.orders; money arrives as Decimal.

    page = await orders.list_orders(api, OrderQuery(stock_state=StockState.short))
    order = await orders.get_order(api, 12)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page
from crm_server.contract.orders import OrderOut, OrderQuery

# What a change to an order announces on the change bus (a webhook or the reconciliation on the server).
CHANGED = frozenset({"orders", "orders.sales_order"})
# Order lists and windows reload on these.
WATCHED = frozenset({"*"}) | CHANGED

_ORDER_PAGE = TypeAdapter(Page[OrderOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


async def list_orders(api: ApiClient, query: OrderQuery) -> Page[OrderOut]:
    return _ORDER_PAGE.validate_python(await api.get("/api/orders", **params(query)))


async def get_order(api: ApiClient, order_id: int) -> OrderOut:
    """One order with its lines and the stock it holds."""
    return OrderOut.model_validate(await api.get(f"/api/orders/{order_id}"))
