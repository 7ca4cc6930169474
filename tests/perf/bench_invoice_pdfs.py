"""Benchmark of invoice PDFs: 1,000 issued invoices of realistic size (5-15 lines, two VAT rates,
some discounts, client names and descriptions outside ASCII, a company logo) rendered the way the
PDF route and the send job do it: read from PostgreSQL (one transaction each) and drawn with
reportlab in a worker thread. Prints the total seconds, PDFs per second and the p95 per PDF; the
issue's target is 1,000 PDFs in under 30 s. Then 200 of them over real HTTP (GET .../pdf) for the
route's p95.

Run: nice .venv/bin/python -m tests.perf.bench_invoice_pdfs"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from crm_server import money
from crm_server.admin import settings
from crm_server.clients.models import Client
from crm_server.config import to_sqlalchemy_url
from crm_server.db import Database, utcnow
from crm_server.documents import pdf
from crm_server.documents.sources import invoice_document, render_invoice_pdf
from crm_server.invoices.models import Invoice, InvoiceLine
from crm_server.products.models import TaxRate
from tests.perf.common import live_server, percentiles
from tests.support import LiveServer

INVOICES = 1_000
HTTP_SAMPLE = 200
TARGET_S = 30.0
ITEMS = [
    "Annual licence",
    "Support hours",
    "On-site training",
    "Installation",
    "Data migration",
    "Consulting",
    "Hosting (monthly)",
    "Barcode scanner",
    "Receipt printer",
    "POS terminal",
    "Custom report",
    "Integration with the web shop",
    "Backup service",
    "Extra user seat",
    "Travel costs",
]
PLACES = ["Cluj-Napoca", "Brașov", "Iași", "Timișoara", "Łódź", "Kraków", "Győr", "Plzeň", "Bucharest"]


def _logo() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (360, 120), (29, 78, 216)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def seed(server: LiveServer) -> list[int]:
    rnd = random.Random(6)
    async with server.session() as s:
        for key, value in {
            "company.name": "Ștefan & Fiii SRL",
            "company.address": "Strada Lungă 1\nCluj-Napoca",
            "company.vat_number": "RO1234567",
            "company.email": "billing@stefan.example",
            "company.phone": "+40 264 000 000",
            "company.logo_png": _logo(),
        }.items():
            await settings.put(s, key, value, None)
        rates = list(
            (
                await s.execute(select(TaxRate.id, TaxRate.rate).where(TaxRate.active).order_by(TaxRate.rate.desc()))
            ).all()
        )[:2]
        clients = []
        for i in range(50):
            client = Client(
                name=f"Client {i} {rnd.choice(['Țăranu', 'Müller', 'Øberg', 'Nowak'])} SRL",
                address=f"Str. Mare {i}, {rnd.choice(PLACES)}",
                vat_number=f"RO{9000000 + i}",
                email=f"office{i}@client.example",
            )
            s.add(client)
            clients.append(client)
        await s.flush()
        today = date.today()
        ids = []
        for n in range(1, INVOICES + 1):
            lines = []
            for _ in range(rnd.randint(5, 15)):
                rate_id, rate = rnd.choice(rates)
                lines.append(
                    (
                        f"{rnd.choice(ITEMS)} – {rnd.choice(PLACES)}",
                        Decimal(rnd.randint(1, 40)),
                        Decimal(rnd.randint(500, 250000)) / 100,
                        Decimal(rnd.choice([0, 0, 0, 5, 10, 12.5])),
                        rate_id,
                        rate,
                    )
                )
            totals = money.document_totals([money.Line(q, p, r, d) for _, q, p, d, _, r in lines], "EUR")
            issue = today - timedelta(days=rnd.randint(0, 300))
            invoice = Invoice(
                kind="invoice",
                number=f"INV-{issue.year}-{n:06d}",
                status="unpaid",
                client_id=rnd.choice(clients).id,
                currency="EUR",
                issue_date=issue,
                due_date=issue + timedelta(days=14),
                notes="Thank you for your business.",
                net_total=totals.net,
                tax_total=totals.tax,
                gross_total=totals.gross,
                issued_at=utcnow(),
            )
            s.add(invoice)
            await s.flush()
            await s.execute(
                insert(InvoiceLine),
                [
                    {
                        "invoice_id": invoice.id,
                        "position": i + 1,
                        "description": d,
                        "quantity": q,
                        "unit_price": p,
                        "discount_percent": disc,
                        "tax_rate_id": rid,
                        "tax_percent": r,
                        "net": t.net,
                        "tax": t.tax,
                        "gross": t.gross,
                    }
                    for i, ((d, q, p, disc, rid, r), t) in enumerate(zip(lines, totals.lines, strict=True))
                ],
            )
            ids.append(invoice.id)
        return ids


async def bench(server: LiveServer) -> None:
    started = time.perf_counter()
    ids = await seed(server)
    print(f"seeded {len(ids)} invoices in {time.perf_counter() - started:.1f} s")
    db = Database(to_sqlalchemy_url(server.database_url), pool_size=2)
    samples: list[float] = []
    reads: list[float] = []
    renders: list[float] = []
    size = 0
    try:
        async with db.transaction() as session:  # warm-up: fonts registered, template read
            await render_invoice_pdf(session, ids[0])
        started, cpu_started = time.perf_counter(), time.process_time()
        for invoice_id in ids:
            one = time.perf_counter()
            async with db.transaction() as session:
                invoice = await session.get(Invoice, invoice_id)
                assert invoice is not None
                document = await invoice_document(session, invoice)
            read = time.perf_counter()
            data = await pdf.render_async(document)
            done = time.perf_counter()
            samples.append((done - one) * 1000)
            reads.append((read - one) * 1000)
            renders.append((done - read) * 1000)
            size += len(data)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await db.dispose()
    verdict = "OK" if total < TARGET_S else "OVER TARGET"
    print(
        f"{len(ids)} invoice PDFs (read + render): {total:.2f} s, {len(ids) / total:.0f} PDFs/s, "
        f"average {size / len(ids) / 1024:.0f} KiB; target < {TARGET_S:.0f} s: {verdict}"
    )
    print(f"  per PDF: {percentiles(samples)}")
    print(f"  of which reading it from PostgreSQL: {percentiles(reads)}")
    print(f"  of which drawing it (reportlab, worker thread): {percentiles(renders)}")
    print(
        f"  CPU time of this process: {cpu:.2f} s (wall clock above includes waiting for a shared CPU; load "
        f"average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )

    http: list[float] = []
    async with server.client() as api:
        await server.login_admin(api)
        for invoice_id in ids[:HTTP_SAMPLE]:
            one = time.perf_counter()
            answer = await api.get(f"/api/invoices/{invoice_id}/pdf")
            http.append((time.perf_counter() - one) * 1000)
            assert answer.status_code == 200 and answer.content.startswith(b"%PDF"), answer.text[:200]
    print(f"GET /api/invoices/{{id}}/pdf over HTTP: {percentiles(http)}")


def main() -> None:
    with live_server() as server:
        asyncio.run(bench(server))


if __name__ == "__main__":
    main()
