"""Invoice, credit note and proposal PDFs, read back with a PDF text extractor: the same number,
client, lines, VAT breakdown and totals as the API answers (formatted, never recomputed), names
outside ASCII printed with the bundled font, drafts marked, and scope: a user who cannot see the
invoice gets 404 for its PDF too."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pypdf import PdfReader

from crm_server.documents import layout, pdf
from tests.support import LiveServer

COMPANY = {
    "company.name": "Ștefan & Fiii SRL",
    "company.address": "Strada Lungă 1\nCluj-Napoca",
    "company.vat_number": "RO1234567",
    "company.email": "billing@stefan.example",
    "company.phone": "+40 264 000 000",
}


def fmt(value: str | Decimal) -> str:
    """How the template prints an amount: grouped thousands, two decimals."""
    return f"{Decimal(value):,.2f}"


def day(value: str) -> str:
    return date.fromisoformat(value).strftime("%d.%m.%Y")


def text_of(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def _rate(api: Any, name: str) -> int:
    rates = {r["name"]: r for r in (await api.get("/api/tax-rates")).json()}
    return int(rates[name]["id"])


async def _client(api: Any, name: str, **fields: Any) -> dict[str, Any]:
    made = await api.post("/api/clients", json={"name": name, **fields})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def _lines(standard: int, reduced: int) -> list[dict[str, Any]]:
    return [
        {
            "description": "Annual licence – Łódź branch",
            "quantity": "3",
            "unit_price": "1234.56",
            "discount_percent": "12.5",
            "tax_rate_id": standard,
        },
        {"description": "On-site training (2 days)", "quantity": "2", "unit_price": "480.00", "tax_rate_id": standard},
        {"description": "Printed manual", "quantity": "7", "unit_price": "0.35", "tax_rate_id": reduced},
        {
            "description": "Support hours <priority> & weekend",
            "quantity": "1.5",
            "unit_price": "65.00",
            "tax_rate_id": reduced,
        },
    ]


def vat_breakdown(lines: list[dict[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
    """Per rate: the sums of the API's line nets and taxes (what the PDF's breakdown must show)."""
    out: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for line in lines:
        base, tax = out[line["tax_percent"]]
        out[line["tax_percent"]] = (base + Decimal(line["net"]), tax + Decimal(line["tax"]))
    return out


async def test_invoice_pdf_carries_the_api_figures(server: LiveServer, admin: Any) -> None:
    assert (await admin.patch("/api/settings", json={"values": COMPANY})).status_code == 200
    standard, reduced = await _rate(admin, "Standard 19%"), await _rate(admin, "Reduced 9%")
    client = await _client(
        admin,
        "Ștefan Țăranu Ăîâ SRL",
        address="Bd. Eroilor 5, Brașov",
        vat_number="RO7654321",
        email="office@taranu.example",
    )
    draft = (
        await admin.post(
            "/api/invoices",
            json={"client_id": client["id"], "notes": "Thank you, Ștefan!", "lines": _lines(standard, reduced)},
        )
    ).json()
    invoice = (await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]})).json()
    assert invoice["number"], invoice
    await admin.post(f"/api/invoices/{invoice['id']}/payments", json={"amount": "100.00"})
    invoice = (await admin.get(f"/api/invoices/{invoice['id']}")).json()

    answer = await admin.get(f"/api/invoices/{invoice['id']}/pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="{invoice["number"]}.pdf"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"%PDF")
    text = text_of(answer.content)

    assert invoice["number"] in text and "Invoice" in text
    assert "Ștefan Țăranu Ăîâ SRL" in text and "Bd. Eroilor 5, Brașov" in text and "RO7654321" in text
    assert "Ștefan & Fiii SRL" in text and "RO1234567" in text and "Thank you, Ștefan!" in text
    for line in invoice["lines"]:
        assert line["description"] in text, line["description"]
        assert fmt(line["net"]) in text and fmt(line["unit_price"]) in text
    assert "12.5%" in text  # the discount
    breakdown = vat_breakdown(invoice["lines"])
    assert len(breakdown) == 2
    for rate, (base, tax) in breakdown.items():
        assert f"{Decimal(rate).normalize():f}%" in text
        assert fmt(base) in text and fmt(tax) in text, (rate, base, tax)
    assert sum((t for _, t in breakdown.values()), Decimal(0)) == Decimal(invoice["tax_total"])
    for key in ("net_total", "tax_total", "gross_total", "paid_total", "open_amount"):
        assert fmt(invoice[key]) in text, key
    assert Decimal(invoice["gross_total"]) > 1000  # the thousands separator is exercised
    assert day(invoice["issue_date"]) in text and day(invoice["due_date"]) in text
    assert (
        f"Please pay {fmt(invoice['open_amount'])} EUR by {day(invoice['due_date'])}, quoting {invoice['number']}"
    ) in " ".join(text.split())
    assert "DRAFT" not in text


async def test_document_rounding_breakdown_matches_the_totals(server: LiveServer, admin: Any) -> None:
    """With VAT rounded once per document and rate, the PDF's breakdown still adds up to the API's."""
    await admin.patch("/api/settings", json={"values": {"sales.tax_rounding": "document"}})
    standard, reduced = await _rate(admin, "Standard 19%"), await _rate(admin, "Reduced 9%")
    client = await _client(admin, "Rounding Ltd")
    lines = [
        {
            "description": f"Item {i}",
            "quantity": "1",
            "unit_price": "0.33",
            "tax_rate_id": standard if i % 2 else reduced,
        }
        for i in range(9)
    ]
    draft = (await admin.post("/api/invoices", json={"client_id": client["id"], "lines": lines})).json()
    text = text_of((await admin.get(f"/api/invoices/{draft['id']}/pdf")).content)
    breakdown = vat_breakdown(draft["lines"])
    assert sum((t for _, t in breakdown.values()), Decimal(0)) == Decimal(draft["tax_total"])
    for _rate_key, (base, tax) in breakdown.items():
        assert fmt(base) in text and fmt(tax) in text
    assert fmt(draft["gross_total"]) in text


async def test_draft_and_credit_note_pdfs(server: LiveServer, admin: Any) -> None:
    rate = await _rate(admin, "Standard 19%")
    client = await _client(admin, "Draft Client")
    body = {
        "client_id": client["id"],
        "lines": [{"description": "Work", "quantity": "2", "unit_price": "50", "tax_rate_id": rate}],
    }
    draft = (await admin.post("/api/invoices", json=body)).json()
    answer = await admin.get(f"/api/invoices/{draft['id']}/pdf")
    assert answer.status_code == 200
    assert f'filename="draft-{draft["id"]}.pdf"' in answer.headers["content-disposition"]
    text = text_of(answer.content)
    assert "DRAFT" in text and "Draft (not issued)" in text and "119.00" in text

    second = (await admin.post("/api/invoices", json=body)).json()
    issued = (await admin.post(f"/api/invoices/{second['id']}/issue", json={"version": second["version"]})).json()
    credit = (await admin.post(f"/api/invoices/{issued['id']}/cancel", json={"version": issued["version"]})).json()
    assert credit["kind"] == "credit_note"
    answer = await admin.get(f"/api/invoices/{credit['id']}/pdf")
    assert f'filename="{credit["number"]}.pdf"' in answer.headers["content-disposition"]
    text = text_of(answer.content)
    assert "Credit note" in text and credit["number"] in text and issued["number"] in text
    assert "-119.00" in text and "-100.00" in text and "-19.00" in text
    cancelled = text_of((await admin.get(f"/api/invoices/{issued['id']}/pdf")).content)
    assert "CANCELLED" in cancelled and issued["number"] in cancelled


async def test_proposal_pdf(server: LiveServer, admin: Any) -> None:
    standard, reduced = await _rate(admin, "Standard 19%"), await _rate(admin, "Reduced 9%")
    client = await _client(admin, "Zoë Ørsted ApS", address="Nørregade 7, København")
    valid = (date.today() + timedelta(days=20)).isoformat()
    made = await admin.post(
        "/api/proposals",
        json={
            "client_id": client["id"],
            "title": "Rollout for 2027",
            "valid_until": valid,
            "lines": _lines(standard, reduced),
        },
    )
    assert made.status_code == 201, made.text
    proposal = made.json()
    answer = await admin.get(f"/api/proposals/{proposal['id']}/pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert f'filename="{proposal["number"]}.pdf"' in answer.headers["content-disposition"]
    text = text_of(answer.content)
    assert "Proposal" in text and proposal["number"] in text and "Rollout for 2027" in text
    assert "Zoë Ørsted ApS" in text and "Nørregade 7, København" in text
    assert f"This proposal is valid until {day(valid)}." in " ".join(text.split())
    for line in proposal["lines"]:
        assert line["description"] in text and fmt(line["net"]) in text
    for key in ("net_total", "tax_total", "gross_total"):
        assert fmt(proposal[key]) in text, key
    for _rate_key, (base, tax) in vat_breakdown(proposal["lines"]).items():
        assert fmt(base) in text and fmt(tax) in text


async def test_pdf_scope_and_permissions(server: LiveServer, admin: Any) -> None:
    sales_id = await server.create_user("sam@example.com", role="Salesperson")
    rate = await _rate(admin, "Standard 19%")
    theirs = await _client(admin, "Theirs", owner_id=sales_id)
    other = await _client(admin, "Other")
    line = [{"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rate}]
    mine = (await admin.post("/api/invoices", json={"client_id": theirs["id"], "lines": line})).json()
    hidden = (await admin.post("/api/invoices", json={"client_id": other["id"], "lines": line})).json()
    hidden_proposal = (await admin.post("/api/proposals", json={"client_id": other["id"], "lines": line})).json()
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.get(f"/api/invoices/{mine['id']}/pdf")).status_code == 200
        assert (await sam.get(f"/api/invoices/{hidden['id']}/pdf")).status_code == 404
        assert (await sam.get("/api/invoices/999999/pdf")).status_code == 404
        assert (await sam.get(f"/api/proposals/{hidden_proposal['id']}/pdf")).status_code == 404
    async with server.client() as anonymous:
        assert (await anonymous.get(f"/api/invoices/{mine['id']}/pdf")).status_code == 401


async def test_logo_is_drawn_and_a_broken_one_is_ignored(server: LiveServer, admin: Any) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2400, 800), (29, 78, 216)).save(buffer, format="PNG")  # larger than it prints
    await admin.patch(
        "/api/settings", json={"values": {"company.logo_png": base64.b64encode(buffer.getvalue()).decode()}}
    )
    rate = await _rate(admin, "Standard 19%")
    client = await _client(admin, "Logo Client")
    draft = (
        await admin.post(
            "/api/invoices",
            json={
                "client_id": client["id"],
                "lines": [{"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rate}],
            },
        )
    ).json()
    with_logo = await admin.get(f"/api/invoices/{draft['id']}/pdf")
    page = PdfReader(io.BytesIO(with_logo.content)).pages[0]
    [logo] = page.images
    assert logo.image is not None and logo.image.size == (800, 267)  # scaled down once, not per PDF
    await admin.patch("/api/settings", json={"values": {"company.logo_png": "bm90IGEgcG5n"}})  # "not a png"
    broken = await admin.get(f"/api/invoices/{draft['id']}/pdf")
    assert broken.status_code == 200 and "Logo Client" in text_of(broken.content)


def test_render_is_fast_and_prints_any_alphabet() -> None:
    """Pure rendering: 15 lines with Romanian, Polish, Greek and Cyrillic text, well under 30 ms."""
    tpl = layout.template()
    lines = tuple(
        layout.Line(
            position=i + 1,
            description=f"Șțăî Łódź Ελληνικά Кириллица {i}",
            quantity=Decimal("2.000"),
            unit_price=Decimal("1000.00"),
            discount_percent=Decimal("0.00"),
            tax_percent=Decimal("19.000"),
            net=Decimal("2000.00"),
        )
        for i in range(15)
    )
    doc = layout.Document(
        kind="invoice",
        number="INV-2026-000001",
        currency="EUR",
        company=layout.Party(name="Ștefan SRL"),
        client=layout.Party(name="Jürgen Øberg"),
        lines=lines,
        taxes=layout.tax_rows([(line.tax_percent, line.net, Decimal("380.00")) for line in lines]),
        net_total=Decimal("30000.00"),
        tax_total=Decimal("5700.00"),
        gross_total=Decimal("35700.00"),
        issue_date=date(2026, 1, 2),
        due_date=date(2026, 1, 16),
    )
    data = pdf.render(doc, tpl)
    text = text_of(data)
    assert "Șțăî Łódź Ελληνικά Кириллица 14" in text and "Jürgen Øberg" in text
    assert "35,700.00" in text and "5,700.00" in text and "30,000.00" in text


def test_long_invoices_flow_over_pages() -> None:
    """The lines' header repeats on every page and every page carries its number and the mark."""
    lines = tuple(
        layout.Line(
            position=i + 1,
            description=f"Item {i + 1}",
            quantity=Decimal(1),
            unit_price=Decimal("10.00"),
            discount_percent=Decimal(0),
            tax_percent=Decimal(19),
            net=Decimal("10.00"),
        )
        for i in range(150)
    )
    doc = layout.Document(
        kind="invoice",
        number=None,
        currency="EUR",
        company=layout.Party(name="Co"),
        client=layout.Party(name="Client"),
        lines=lines,
        taxes=(layout.TaxRow(rate=Decimal(19), base=Decimal("1500.00"), tax=Decimal("285.00")),),
        net_total=Decimal("1500.00"),
        tax_total=Decimal("285.00"),
        gross_total=Decimal("1785.00"),
        mark="draft_mark",
    )
    reader = PdfReader(io.BytesIO(pdf.render(doc)))
    assert len(reader.pages) >= 3
    for n, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {n}" in text and "DRAFT" in text and "Description" in text
    assert "Item 150" in reader.pages[-1].extract_text() and "1,785.00" in reader.pages[-1].extract_text()
