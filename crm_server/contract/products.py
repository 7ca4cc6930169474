"""Products, services and VAT rates on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After, Model, VersionIn

Money = Decimal  # serialised as a string ("12.50"): never a float on the wire


class TaxRateIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    rate: Decimal = Field(ge=0, le=100, max_digits=6, decimal_places=3, description="percent, e.g. 19")
    active: bool = True


class TaxRateUpdate(VersionIn):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    rate: Decimal | None = Field(default=None, ge=0, le=100, max_digits=6, decimal_places=3)
    active: bool | None = None


class TaxRateOut(Model):
    id: int
    name: str
    rate: Decimal
    active: bool
    version: int


class ProductIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    unit: str = Field(default="pcs", min_length=1, max_length=20)
    unit_price: Money = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, description="ISO 4217; defaults to sales.base_currency")
    tax_rate_id: int
    stock_tracked: bool = False


class ProductUpdate(VersionIn):
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    unit_price: Money | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = None
    tax_rate_id: int | None = None
    stock_tracked: bool | None = None


class ProductOut(Model):
    id: int
    sku: str
    name: str
    description: str | None
    unit: str
    unit_price: Money
    currency: str
    tax_rate_id: int
    tax_rate_name: str = ""
    tax_rate: Decimal = Decimal(0)
    stock_tracked: bool
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int


ProductSort = Literal["sku", "-sku", "name", "-name", "unit_price", "-unit_price", "updated_at", "-updated_at"]


class ProductQuery(BaseModel):
    """Filters, sort and page of the product list."""

    q: str | None = Field(default=None, max_length=200, description="part of the SKU or the name")
    status: Literal["active", "inactive", "all"] = "active"
    stock_tracked: bool | None = None
    tax_rate_id: int | None = None
    sort: ProductSort = "name"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None


class SalesSettingsOut(Model):
    """What every document editor needs to total lines as the server will (readable by anyone who
    works with products; the settings page itself is for admins)."""

    base_currency: str
    tax_rounding: str  # "line" or "document"
    payment_terms_days: int
