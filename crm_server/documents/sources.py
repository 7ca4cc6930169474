"""Invoices and proposals read from the database into printable Documents, and rendered. Every
figure is a stored amount (totals and line nets as money.py stored them); the VAT breakdown sums the
stored line amounts per rate. No scope check here: the routes check it before calling, the send job
runs for whoever queued it."""

from __future__ import annotations

import base64
import binascii
import io
import re
from functools import lru_cache
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.admin.models import Setting
from crm_server.clients.models import Client
from crm_server.documents import layout
from crm_server.errors import NotFound
from crm_server.invoices.models import Invoice, InvoiceLine, LineColumns
from crm_server.leads.models import Lead
from crm_server.proposals.models import Proposal, ProposalLine

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
LOGO_PIXELS = (800, 360)  # enough for the template's 50 x 22 mm box at about 400 dpi
COMPANY_KEYS = tuple(key for key in settings.DEFINITIONS if key.startswith("company."))


@lru_cache(maxsize=4)
def _logo(encoded: str) -> bytes | None:
    """The company.logo_png setting decoded and, when larger than it prints, scaled down once (a
    2000-pixel logo would otherwise be decoded and compressed again in every PDF). Cached: the same
    logo prints on every document. None when it is not a picture."""
    try:
        data = base64.b64decode(encoded, validate=False)
        with PILImage.open(io.BytesIO(data)) as image:
            if image.width <= LOGO_PIXELS[0] and image.height <= LOGO_PIXELS[1]:
                return data
            image.thumbnail(LOGO_PIXELS)
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            return out.getvalue()
    except (binascii.Error, ValueError, OSError):
        return None


def _company(cfg: dict[str, Any]) -> layout.Party:
    return layout.Party(
        name=str(cfg["company.name"] or ""),
        address=str(cfg["company.address"] or ""),
        vat_number=str(cfg["company.vat_number"] or ""),
        email=str(cfg["company.email"] or ""),
        phone=str(cfg["company.phone"] or ""),
    )


def _lines(rows: list[Any]) -> tuple[tuple[layout.Line, ...], tuple[layout.TaxRow, ...]]:
    lines = tuple(
        layout.Line(
            position=r.position,
            description=r.description,
            quantity=r.quantity,
            unit_price=r.unit_price,
            discount_percent=r.discount_percent,
            tax_percent=r.tax_percent,
            net=r.net,
        )
        for r in rows
    )
    return lines, layout.tax_rows([(r.tax_percent, r.net, r.tax) for r in rows])


def safe_filename(stem: str) -> str:
    """A file name any OS and HTTP header accept: the number's odd characters become "-"."""
    return (_UNSAFE.sub("-", stem).strip("-.") or "document") + ".pdf"


def invoice_filename(invoice: Invoice) -> str:
    return safe_filename(invoice.number) if invoice.number else f"draft-{invoice.id}.pdf"


async def _line_rows(session: AsyncSession, model: type[LineColumns], owner: Any, owner_id: int) -> list[Any]:
    return list((await session.scalars(select(model).where(owner == owner_id).order_by(model.position))).all())


async def company_settings(session: AsyncSession) -> dict[str, Any]:
    """The company.* settings (one query; the defaults fill what was never set)."""
    query = select(Setting.key, Setting.value).where(Setting.key.in_(COMPANY_KEYS))
    stored: dict[str, Any] = dict((await session.execute(query)).all())
    return {key: stored.get(key, settings.DEFINITIONS[key].default) for key in COMPANY_KEYS}


async def invoice_document(session: AsyncSession, invoice: Invoice) -> layout.Document:
    cfg = await company_settings(session)
    client = await session.get(Client, invoice.client_id)
    rows = await _line_rows(session, InvoiceLine, InvoiceLine.invoice_id, invoice.id)
    lines, taxes = _lines(rows)
    credited = None
    if invoice.credited_invoice_id is not None:
        credited = await session.scalar(select(Invoice.number).where(Invoice.id == invoice.credited_invoice_id))
    mark = "draft_mark" if invoice.status == "draft" else "cancelled_mark" if invoice.status == "cancelled" else None
    return layout.Document(
        kind="credit_note" if invoice.kind == "credit_note" else "invoice",
        number=invoice.number,
        currency=invoice.currency,
        company=_company(cfg),
        client=layout.Party(
            name=client.name, address=client.address or "", vat_number=client.vat_number or "", email=client.email or ""
        )
        if client
        else layout.Party(name=""),
        lines=lines,
        taxes=taxes,
        net_total=invoice.net_total,
        tax_total=invoice.tax_total,
        gross_total=invoice.gross_total,
        paid_total=invoice.paid_total,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        notes=invoice.notes,
        credited_number=credited,
        mark=mark,
        logo_png=_logo(cfg["company.logo_png"]) if cfg["company.logo_png"] else None,
    )


async def proposal_document(session: AsyncSession, proposal: Proposal) -> layout.Document:
    cfg = await company_settings(session)
    if proposal.client_id is not None:
        client = await session.get(Client, proposal.client_id)
        party = (
            layout.Party(
                name=client.name,
                address=client.address or "",
                vat_number=client.vat_number or "",
                email=client.email or "",
            )
            if client
            else layout.Party(name="")
        )
    else:
        lead = await session.get(Lead, proposal.lead_id)
        party = (
            layout.Party(
                name=lead.company or lead.person_name,
                address=lead.person_name if lead.company else "",
                email=lead.email or "",
                phone=lead.phone or "",
            )
            if lead
            else layout.Party(name="")
        )
    rows = await _line_rows(session, ProposalLine, ProposalLine.proposal_id, proposal.id)
    lines, taxes = _lines(rows)
    return layout.Document(
        kind="proposal",
        number=proposal.number,
        currency=proposal.currency,
        company=_company(cfg),
        client=party,
        lines=lines,
        taxes=taxes,
        net_total=proposal.net_total,
        tax_total=proposal.tax_total,
        gross_total=proposal.gross_total,
        issue_date=proposal.created_at.date(),
        valid_until=proposal.valid_until,
        title=proposal.title,
        notes=proposal.notes,
        logo_png=_logo(cfg["company.logo_png"]) if cfg["company.logo_png"] else None,
    )


async def render_invoice(session: AsyncSession, invoice: Invoice) -> tuple[str, bytes]:
    """(file name, PDF bytes) of an invoice or credit note; drafts are "draft-<id>.pdf", marked DRAFT."""
    document = await invoice_document(session, invoice)
    from crm_server.documents import pdf  # reportlab: loaded on the first PDF, not at server start

    return invoice_filename(invoice), await pdf.render_async(document)


async def render_invoice_pdf(session: AsyncSession, invoice_id: int) -> tuple[str, bytes]:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    return await render_invoice(session, invoice)


async def render_proposal(session: AsyncSession, proposal: Proposal) -> tuple[str, bytes]:
    document = await proposal_document(session, proposal)
    from crm_server.documents import pdf  # reportlab: loaded on the first PDF, not at server start

    return safe_filename(proposal.number or f"proposal-{proposal.id}"), await pdf.render_async(document)
