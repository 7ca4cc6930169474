"""The rules of products and VAT rates: every change is validated, audited and announced here,
inside the caller's transaction (services never commit)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.concurrency import check_version
from crm_server.contract.common import Page
from crm_server.contract.products import (
    ProductIn,
    ProductOut,
    ProductQuery,
    ProductUpdate,
    TaxRateIn,
    TaxRateOut,
    TaxRateUpdate,
)
from crm_server.db import savepoint
from crm_server.errors import Conflict, NotFound, ValidationFailed
from crm_server.paging import like_pattern
from crm_server.products.models import Product, TaxRate

MODULE = "products"
PRODUCT_FIELDS = (
    "sku",
    "name",
    "description",
    "unit",
    "unit_price",
    "currency",
    "tax_rate_id",
    "stock_tracked",
    "active",
)
TAX_FIELDS = ("name", "rate", "active")
SORTS = {
    "sku": (func.lower(Product.sku, type_=String), Product.id),  # typed: a cursor carries its value as text
    "name": (Product.name, Product.id),
    "unit_price": (Product.unit_price, Product.id),
    "updated_at": (Product.updated_at, Product.id),
}
CURRENCY = re.compile(r"^[A-Z]{3}$")
PRICE_STEP, RATE_STEP = Decimal("0.01"), Decimal("0.001")
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


def _announce(session: AsyncSession, actor_id: int | None, entity: str, record: Product | TaxRate, action: str) -> None:
    events.emit(
        session,
        module=MODULE,
        entity=entity,
        entity_id=record.id,
        action=action,
        actor_id=actor_id,
        data={"version": record.version},
    )


async def _save(session: AsyncSession, record: Product | TaxRate) -> None:
    """Flush; a twin saved concurrently (same SKU or rate name) becomes the same clear error."""
    try:
        async with savepoint(session):
            session.add(record)
            await session.flush()
    except IntegrityError as exc:
        if "uq_products_sku_lower" in str(exc.orig):
            raise _duplicate_sku() from None
        if "uq_tax_rates_name_lower" in str(exc.orig):
            raise _duplicate_tax_name() from None
        raise


# --- tax rates -----------------------------------------------------------------------------------


def _duplicate_tax_name() -> ValidationFailed:
    return ValidationFailed("A VAT rate with this name exists already.", field="name", code="duplicate_name")


async def list_tax_rates(session: AsyncSession, include_inactive: bool = True) -> list[TaxRateOut]:
    stmt = select(TaxRate).order_by(TaxRate.rate.desc(), TaxRate.name)
    if not include_inactive:
        stmt = stmt.where(TaxRate.active.is_(True))
    return [TaxRateOut.model_validate(r) for r in (await session.scalars(stmt)).all()]


def _clean_tax(values: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if v is not None}
    if "name" in clean:
        clean["name"] = " ".join(clean["name"].split())
        if not clean["name"]:
            raise ValidationFailed("A VAT rate needs a name.", field="name")
    if "rate" in clean:
        clean["rate"] = Decimal(clean["rate"]).quantize(RATE_STEP)  # as NUMERIC(6,3) stores it
    return clean


async def create_tax_rate(session: AsyncSession, actor: Principal, data: TaxRateIn) -> TaxRateOut:
    rate = TaxRate(**_clean_tax(data.model_dump()))
    await _save(session, rate)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="tax_rate",
        entity_id=rate.id,
        action="created",
        changes=audit.diff({}, _fields(rate, TAX_FIELDS)),
    )
    _announce(session, actor.user_id, "tax_rate", rate, "created")
    return TaxRateOut.model_validate(rate)


async def update_tax_rate(session: AsyncSession, actor: Principal, rate_id: int, data: TaxRateUpdate) -> TaxRateOut:
    """Rename, re-rate or (de)activate. Documents copy the rate onto their lines, so a change here
    never rewrites an issued invoice."""
    rate = await session.get(TaxRate, rate_id, with_for_update=True, populate_existing=True)
    if rate is None:
        raise NotFound("No such VAT rate.")
    check_version(rate, data.version)
    before = _fields(rate, TAX_FIELDS)
    for key, value in _clean_tax(data.model_dump(exclude_unset=True, exclude={"version"})).items():
        setattr(rate, key, value)
    diff = audit.diff(before, _fields(rate, TAX_FIELDS))
    if diff:
        await _save(session, rate)
        audit.record(
            session, actor_id=actor.user_id, entity="tax_rate", entity_id=rate.id, action="updated", changes=diff
        )
        _announce(session, actor.user_id, "tax_rate", rate, "updated")
    return TaxRateOut.model_validate(rate)


# --- products: reading ---------------------------------------------------------------------------


def _out(row: Any) -> ProductOut:
    product, tax = row
    out = ProductOut.model_validate(product)
    out.tax_rate_name, out.tax_rate = tax.name, tax.rate
    return out


def _with_tax() -> Select[Any]:
    """Each product with its VAT rate (rows of two entities, for paging.page(whole_rows=True))."""
    return cast("Select[Any]", select(Product, TaxRate).join(TaxRate, TaxRate.id == Product.tax_rate_id))


async def get_product(session: AsyncSession, product_id: int) -> ProductOut:
    row = (await session.execute(_with_tax().where(Product.id == product_id))).first()
    if row is None:
        raise NotFound("No such product.")
    return _out(row)


async def list_products(session: AsyncSession, query: ProductQuery) -> Page[ProductOut]:
    stmt = _with_tax()
    if query.status != "all":
        stmt = stmt.where(Product.active.is_(query.status == "active"))
    if query.q and query.q.strip():
        stmt = stmt.where(Product.search_text.like(like_pattern(query.q), escape="\\"))
    if query.stock_tracked is not None:
        stmt = stmt.where(Product.stock_tracked.is_(query.stock_tracked))
    if query.tax_rate_id is not None:
        stmt = stmt.where(Product.tax_rate_id == query.tax_rate_id)
    columns = SORTS[query.sort.lstrip("-")]
    order = tuple(c.desc() for c in columns) if query.sort.startswith("-") else columns
    return await paging.page(session, stmt, query.offset, query.limit, _out, order, whole_rows=True, after=query.after)


# --- products: writing ---------------------------------------------------------------------------


def _duplicate_sku() -> ValidationFailed:
    return ValidationFailed("A product with this SKU exists already.", field="sku", code="duplicate_sku")


async def _sku_taken(session: AsyncSession, sku: str, except_id: int | None = None) -> bool:
    stmt = select(Product.id).where(func.lower(Product.sku) == sku.lower())
    if except_id is not None:
        stmt = stmt.where(Product.id != except_id)
    return (await session.scalar(stmt.limit(1))) is not None


async def _clean(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise what was typed; errors name the field."""
    clean = dict(values)
    if "sku" in clean:
        clean["sku"] = (clean["sku"] or "").strip()
        if not SKU.match(clean["sku"]):
            raise ValidationFailed("A SKU is letters, digits and . _ / - (no spaces).", field="sku")
    for key, label in (("name", "A name"), ("unit", "A unit")):
        if key in clean:
            clean[key] = " ".join((clean[key] or "").split())
            if not clean[key]:
                raise ValidationFailed(f"{label} is needed.", field=key)
    if clean.get("unit_price") is not None:
        clean["unit_price"] = Decimal(clean["unit_price"]).quantize(PRICE_STEP)  # as NUMERIC(14,2) stores it
    if "description" in clean:
        clean["description"] = (clean["description"] or "").strip() or None
    if "currency" in clean:
        clean["currency"] = (clean["currency"] or "").strip().upper() or await settings.get(
            session, "sales.base_currency"
        )
        if not CURRENCY.match(clean["currency"]):
            raise ValidationFailed("A currency is a three-letter ISO code (EUR, USD, RON).", field="currency")
    if "tax_rate_id" in clean:
        rate = await session.get(TaxRate, clean["tax_rate_id"])
        if rate is None:
            raise ValidationFailed("No such VAT rate.", field="tax_rate_id")
        if not rate.active:
            raise ValidationFailed(
                f"The VAT rate {rate.name!r} is not in use any more.", field="tax_rate_id", code="inactive_tax_rate"
            )
    return clean


async def create_product(session: AsyncSession, actor: Principal | None, data: ProductIn) -> ProductOut:
    actor_id = actor.user_id if actor else None
    values = await _clean(session, data.model_dump())
    if await _sku_taken(session, values["sku"]):
        raise _duplicate_sku()
    product = Product(**values, created_by=actor_id, active=True)
    await _save(session, product)
    audit.record(
        session,
        actor_id=actor_id,
        entity="product",
        entity_id=product.id,
        action="created",
        changes=audit.diff({}, _fields(product, PRODUCT_FIELDS)),
    )
    _announce(session, actor_id, "product", product, "created")
    return await get_product(session, product.id)


async def _locked(session: AsyncSession, product_id: int, version: int) -> Product:
    product = await session.get(Product, product_id, with_for_update=True, populate_existing=True)
    if product is None:
        raise NotFound("No such product.")
    check_version(product, version)
    return product


async def update_product(session: AsyncSession, actor: Principal, product_id: int, data: ProductUpdate) -> ProductOut:
    product = await _locked(session, product_id, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("sku", "name", "unit", "unit_price", "tax_rate_id", "stock_tracked"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be empty.", field=key)
    if changes.get("tax_rate_id") == product.tax_rate_id:
        changes.pop("tax_rate_id")  # keeping an old, now inactive rate is allowed
    changes = await _clean(session, changes)
    if "sku" in changes and await _sku_taken(session, changes["sku"], except_id=product.id):
        raise _duplicate_sku()
    before = _fields(product, PRODUCT_FIELDS)
    for key, value in changes.items():
        setattr(product, key, value)
    diff = audit.diff(before, _fields(product, PRODUCT_FIELDS))
    if diff:
        await _save(session, product)
        audit.record(
            session, actor_id=actor.user_id, entity="product", entity_id=product.id, action="updated", changes=diff
        )
        _announce(session, actor.user_id, "product", product, "updated")
    return await get_product(session, product.id)


async def set_active(
    session: AsyncSession, actor: Principal, product_id: int, version: int, active: bool
) -> ProductOut:
    """Deactivate or reactivate: products are never deleted (documents point at them)."""
    product = await _locked(session, product_id, version)
    if product.active == active:
        raise Conflict(
            "The product is active already." if active else "The product is inactive already.",
            code="already_active" if active else "already_inactive",
        )
    product.active = active
    await _save(session, product)
    action = "reactivated" if active else "deactivated"
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="product",
        entity_id=product.id,
        action=action,
        changes=audit.diff({"active": not active}, {"active": active}),
    )
    _announce(session, actor.user_id, "product", product, action)
    return await get_product(session, product.id)
