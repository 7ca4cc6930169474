"""How a store's order meets the CRM's records: the client by the buyer's email (made through the
clients service when new, with the billing person as its contact, the billing address and the phone
in E.164 read in the billing country; an existing client gets what it lacks of these), each line's
product by SKU (made through the products service when unknown); a line without SKU cannot be
matched and is kept aside as a skipped line."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import audit, settings
from crm_server.clients import normalise
from crm_server.clients import service as clients
from crm_server.clients.models import Client, Contact
from crm_server.contract.clients import ClientIn, ContactIn
from crm_server.contract.products import ProductIn
from crm_server.errors import ValidationFailed
from crm_server.integrations.providers import NeedsAttention
from crm_server.products import service as products
from crm_server.products.models import Product, TaxRate

ZERO, CENT = Decimal(0), Decimal("0.01")


@dataclass(frozen=True)
class StoreCustomer:
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str | None = None
    address: str = ""  # the billing address, on one line
    country: str = ""  # ISO 3166 code of the billing address: how a phone without +prefix is read

    @property
    def person(self) -> str:
        return " ".join(p for p in (self.first_name.strip(), self.last_name.strip()) if p)

    @property
    def name(self) -> str:
        return self.company.strip() or self.person or (self.email or "").strip() or "Web shop customer"


@dataclass(frozen=True)
class StoreLine:
    sku: str | None
    name: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal


@dataclass
class Matched:
    """Lines as (product, line), the skipped ones, and the products made on the way."""

    lines: list[tuple[Product, StoreLine]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # SKUs of products made now


async def _serialise(session: AsyncSession, key: str) -> None:
    """Wait for any other transaction matching the same key (held until commit)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def _by_email(session: AsyncSession, email: str) -> Client | None:
    """The client with this email (active before archived), else the client of a contact with it."""
    client = (
        await session.scalars(
            select(Client)
            .where(func.lower(Client.email) == email.lower())
            .order_by(Client.archived_at.is_not(None), Client.id)
            .limit(1)
        )
    ).first()
    if client is not None:
        return client
    return (
        await session.scalars(
            select(Client)
            .join(Contact, Contact.client_id == Client.id)
            .where(func.lower(Contact.email) == email.lower())
            .order_by(Client.archived_at.is_not(None), Client.id)
            .limit(1)
        )
    ).first()


async def _phone(session: AsyncSession, customer: StoreCustomer) -> str | None:
    """The billing phone in E.164, read in the billing country (the office's country when the store
    sent none); a number that does not read as one is left out rather than refusing the order."""
    country = customer.country or str(await settings.get(session, "company.default_country"))
    try:
        return normalise.phone(customer.phone, country)
    except ValidationFailed:
        return None


def _contact(customer: StoreCustomer, email: str | None, phone: str | None) -> ContactIn | None:
    """The billing person as the client's contact (none when the store gave no name)."""
    if not customer.person:
        return None
    return ContactIn(name=customer.person[:200], email=email, phone=phone)


async def _complete(
    session: AsyncSession, client: Client, customer: StoreCustomer, email: str | None, phone: str | None
) -> None:
    """An existing client gets what it lacks: the address and phone when it has none, the billing
    person as a contact when no contact has that address (or, without one, that name). What the
    office typed is never overwritten."""
    changes: dict[str, Any] = {}
    if customer.address and not client.address:
        changes["address"] = customer.address
    if phone and not client.phone:
        changes["phone"] = phone
    if changes:
        before = {k: getattr(client, k) for k in changes}
        for key, value in changes.items():
            setattr(client, key, value)
        await session.flush()
        audit.record(
            session,
            actor_id=None,
            entity="client",
            entity_id=client.id,
            action="updated",
            changes=audit.diff(before, changes),
        )
        clients.announce(session, None, client, "updated")
    contact = _contact(customer, email, phone)
    if contact is None:
        return
    same = (func.lower(Contact.email) == email.lower()) if email else (func.lower(Contact.name) == contact.name.lower())
    if await session.scalar(select(Contact.id).where(Contact.client_id == client.id, same).limit(1)) is None:
        await clients._add_contact(session, None, client, contact)


async def client_for(session: AsyncSession, customer: StoreCustomer) -> tuple[Client, bool]:
    """The buyer's client and whether it was made now. An address the CRM cannot read is left out of
    the new client rather than refusing the order (so is a phone number)."""
    try:
        email = normalise.email(customer.email)
    except ValidationFailed:
        email = None
    phone = await _phone(session, customer)
    if email is not None:
        await _serialise(session, f"client-email:{email.lower()}")  # one new client per address, not two
        if (found := await _by_email(session, email)) is not None:
            await _complete(session, found, customer, email, phone)
            return found, False
    contact = _contact(customer, email, phone)
    data = ClientIn(
        name=customer.name[:300],
        email=email,
        phone=phone,
        address=customer.address or None,
        contacts=[contact] if contact is not None else [],
    )
    made = await clients.create_client(session, None, data, guard=False)
    client = await session.get(Client, made.id)
    assert client is not None
    return client, True


async def _default_tax_rate(session: AsyncSession) -> int:
    rate = await session.scalar(select(TaxRate.id).where(TaxRate.active).order_by(TaxRate.id).limit(1))
    if rate is None:
        raise NeedsAttention(
            "No active VAT rate exists for the products the web shop sells: add one in "
            "Products, then replay this event."
        )
    return int(rate)


async def _product(session: AsyncSession, line: StoreLine, currency: str, matched: Matched) -> Product | None:
    sku = (line.sku or "").strip()
    found = (await session.scalars(select(Product).where(func.lower(Product.sku) == sku.lower()))).first()
    if found is not None:
        return found
    if not products.SKU.match(sku) or len(sku) > 64:
        matched.skipped.append(_skip(line, f"SKU {sku!r} is not one the CRM accepts (letters, digits, . _ / -)"))
        return None
    made = await products.create_product(
        session,
        None,
        ProductIn(
            sku=sku,
            name=(line.name.strip() or sku)[:300],
            unit_price=max(line.unit_price, ZERO).quantize(CENT),
            currency=currency,
            tax_rate_id=await _default_tax_rate(session),
        ),
    )
    matched.created.append(made.sku)
    return await session.get(Product, made.id)


def _skip(line: StoreLine, reason: str) -> dict[str, Any]:
    return {"name": line.name, "quantity": str(line.quantity), "line_total": str(line.line_total), "reason": reason}


async def lines_for(session: AsyncSession, lines: list[StoreLine], currency: str) -> Matched:
    matched = Matched()
    # Two orders with the same new SKU make one product; locked in one order, so never a deadlock.
    for sku in sorted({(line.sku or "").strip().lower() for line in lines} - {""}):
        await _serialise(session, f"product-sku:{sku}")
    for line in lines:
        if not (line.sku or "").strip():
            matched.skipped.append(_skip(line, "no SKU in the store"))
            continue
        product = await _product(session, line, currency, matched)
        if product is not None:
            matched.lines.append((product, line))
    return matched
