"""The list of payments across invoices. Amounts are Decimal (strings in JSON)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from crm_server.contract.common import After
from crm_server.contract.invoices import PaymentMethod, PaymentOut


class PaymentRow(PaymentOut):
    """A payment with the invoice it settles, so a list needs no second request."""

    invoice_number: str | None = None
    currency: str
    client_id: int
    client_name: str = ""


PaymentSort = Literal["paid_on", "-paid_on", "amount", "-amount", "created_at", "-created_at"]


class PaymentQuery(BaseModel):
    paid_from: date | None = None
    paid_to: date | None = None
    method: PaymentMethod | None = None
    client_id: int | None = None
    q: str | None = Field(
        default=None, max_length=200, description="part of the invoice number, the reference or the client's name"
    )
    sort: PaymentSort = "-paid_on"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=500)
    after: After = None
