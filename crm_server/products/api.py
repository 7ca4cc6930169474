"""HTTP routes of the products area: parse, authorize, call the service, serialize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.contract.common import Page, VersionIn
from crm_server.contract.products import (
    ProductIn,
    ProductOut,
    ProductQuery,
    ProductUpdate,
    SalesSettingsOut,
    TaxRateIn,
    TaxRateOut,
    TaxRateUpdate,
)
from crm_server.products import service
from crm_server.routing import Session, TxRoute, require

router = APIRouter(prefix="/api", route_class=TxRoute, tags=["products"])


@router.get("/tax-rates", response_model=list[TaxRateOut], dependencies=[require("products", "view")])
async def list_tax_rates(session: Session, include_inactive: bool = True) -> list[TaxRateOut]:
    return await service.list_tax_rates(session, include_inactive)


@router.get("/sales-settings", response_model=SalesSettingsOut, dependencies=[require("products", "view")])
async def sales_settings(session: Session) -> SalesSettingsOut:
    values = await settings.get_all(session)
    return SalesSettingsOut(
        base_currency=values["sales.base_currency"],
        tax_rounding=values["sales.tax_rounding"],
        payment_terms_days=values["invoices.payment_terms_days"],
    )


@router.post("/tax-rates", response_model=TaxRateOut, status_code=201)
async def create_tax_rate(body: TaxRateIn, session: Session, actor: Principal = require("admin", "edit")) -> TaxRateOut:
    return await service.create_tax_rate(session, actor, body)


@router.patch("/tax-rates/{rate_id}", response_model=TaxRateOut)
async def update_tax_rate(
    rate_id: int, body: TaxRateUpdate, session: Session, actor: Principal = require("admin", "edit")
) -> TaxRateOut:
    return await service.update_tax_rate(session, actor, rate_id, body)


@router.get("/products", response_model=Page[ProductOut], dependencies=[require("products", "view")])
async def list_products(session: Session, query: Annotated[ProductQuery, Query()]) -> Page[ProductOut]:
    return await service.list_products(session, query)


@router.post("/products", response_model=ProductOut, status_code=201)
async def create_product(
    body: ProductIn, session: Session, actor: Principal = require("products", "create")
) -> ProductOut:
    return await service.create_product(session, actor, body)


@router.get("/products/{product_id}", response_model=ProductOut, dependencies=[require("products", "view")])
async def get_product(product_id: int, session: Session) -> ProductOut:
    return await service.get_product(session, product_id)


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: int, body: ProductUpdate, session: Session, actor: Principal = require("products", "edit")
) -> ProductOut:
    return await service.update_product(session, actor, product_id, body)


@router.post("/products/{product_id}/deactivate", response_model=ProductOut)
async def deactivate_product(
    product_id: int, body: VersionIn, session: Session, actor: Principal = require("products", "edit")
) -> ProductOut:
    return await service.set_active(session, actor, product_id, body.version, active=False)


@router.post("/products/{product_id}/reactivate", response_model=ProductOut)
async def reactivate_product(
    product_id: int, body: VersionIn, session: Session, actor: Principal = require("products", "edit")
) -> ProductOut:
    return await service.set_active(session, actor, product_id, body.version, active=True)
