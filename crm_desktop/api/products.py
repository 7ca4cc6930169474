"""Typed calls of the products area: the catalogue, one product, its Deactivate / Reactivate, the
VAT rates and the sales settings every document editor totals with. The wire models come from
crm_server.contract.products; prices arrive as Decimal.

    page = await products.list_products(api, ProductQuery(q="scan", stock_tracked=True, limit=10))
    operations.run(self, products.deactivate_product(api, p.id, p.version), changed=products.CHANGED)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from crm_desktop.api.client import ApiClient
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.products import (
    ProductIn,
    ProductOut,
    ProductQuery,
    ProductUpdate,
    SalesSettingsOut,
    TaxRateOut,
)

# What a change to a product announces on the change bus (operations.run(..., changed=CHANGED)).
CHANGED = frozenset({"products", "products.product"})
# A VAT rate was added or changed (the admin's tax-rate screen announces it).
TAX_RATES_CHANGED = frozenset({"products.tax_rate"})
# The catalogue reloads on these: a product or a VAT rate (its name shows in the list) changed.
WATCHED = frozenset({"*"}) | CHANGED | TAX_RATES_CHANGED

_PRODUCT_PAGE = TypeAdapter(Page[ProductOut])
_TAX_RATES = TypeAdapter(list[TaxRateOut])


def params(model: BaseModel) -> dict[str, Any]:
    """A query model as query parameters: only what differs from the server's defaults."""
    return model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def body(model: BaseModel) -> dict[str, Any]:
    """A request model as JSON: the fields set, so a PATCH changes only what it names. A form may
    hand over what a person typed unchecked (`ProductIn.model_construct(**values)`): the server then
    judges it, and its refusal names the field next to which the form shows it."""
    return model.model_dump(mode="json", exclude_unset=True, warnings=False)


async def list_products(api: ApiClient, query: ProductQuery) -> Page[ProductOut]:
    return _PRODUCT_PAGE.validate_python(await api.get("/api/products", **params(query)))


async def get_product(api: ApiClient, product_id: int) -> ProductOut:
    return ProductOut.model_validate(await api.get(f"/api/products/{product_id}"))


async def create_product(api: ApiClient, product: ProductIn) -> ProductOut:
    return ProductOut.model_validate(await api.post("/api/products", body(product)))


async def update_product(api: ApiClient, product_id: int, changes: ProductUpdate) -> ProductOut:
    """Only the fields set on `changes` are sent, with the version the form was opened on."""
    return ProductOut.model_validate(await api.patch(f"/api/products/{product_id}", body(changes)))


async def deactivate_product(api: ApiClient, product_id: int, version: int) -> ProductOut:
    answer = await api.post(f"/api/products/{product_id}/deactivate", body(VersionIn(version=version)))
    return ProductOut.model_validate(answer)


async def reactivate_product(api: ApiClient, product_id: int, version: int) -> ProductOut:
    answer = await api.post(f"/api/products/{product_id}/reactivate", body(VersionIn(version=version)))
    return ProductOut.model_validate(answer)


async def tax_rates(api: ApiClient, include_inactive: bool = True) -> list[TaxRateOut]:
    """The VAT rates (readable by anyone who works with products; editing them is the admin's)."""
    return _TAX_RATES.validate_python(await api.get("/api/tax-rates", include_inactive=include_inactive))


async def sales_settings(api: ApiClient) -> SalesSettingsOut:
    """The base currency, the VAT rounding rule and the default payment terms."""
    return SalesSettingsOut.model_validate(await api.get("/api/sales-settings"))
