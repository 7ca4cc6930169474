"""Demo products and services: about sixty, spread over the four VAT rates, some stock-tracked,
a few inactive, so the list, its filters and later the proposals have something to show."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.products.models import Product, TaxRate

# (sku prefix, unit, VAT rate name, stock tracked, price range, names)
FAMILIES = (
    (
        "HW",
        "pcs",
        "Standard 19%",
        True,
        (15, 900),
        [
            "Barcode scanner",
            "Receipt printer",
            "POS terminal",
            "Cash drawer",
            "Label printer",
            "Tablet stand",
            "Card reader",
            "Customer display",
            "Docking station",
            "Wireless router",
            "UPS 1500VA",
            "Network switch 24p",
        ],
    ),
    (
        "ACC",
        "pcs",
        "Standard 19%",
        True,
        (2, 60),
        [
            "USB cable 2m",
            "Thermal paper roll",
            "Label roll 50x30",
            "Power adapter",
            "HDMI cable",
            "Mouse",
            "Keyboard",
            "Screen protector",
            "Cleaning kit",
            "Cable ties (100)",
        ],
    ),
    (
        "SW",
        "pcs",
        "Standard 19%",
        False,
        (49, 1200),
        [
            "CRM licence (user/year)",
            "Inventory add-on",
            "Reporting add-on",
            "Backup service (year)",
            "E-invoicing connector",
            "Shop connector",
            "Mobile app licence",
            "API access (year)",
        ],
    ),
    (
        "SRV",
        "h",
        "Standard 19%",
        False,
        (35, 140),
        [
            "Consulting",
            "Installation",
            "On-site support",
            "Remote support",
            "Data migration",
            "Custom report",
            "Training session",
            "Project management",
            "Integration development",
            "Network setup",
        ],
    ),
    (
        "BOOK",
        "pcs",
        "Reduced 5%",
        True,
        (8, 45),
        ["User manual (print)", "Admin handbook (print)", "Sales playbook (print)", "Quick start guide (print)"],
    ),
    (
        "FOOD",
        "kg",
        "Reduced 9%",
        True,
        (3, 40),
        ["Coffee beans", "Green tea", "Sugar", "Biscuits", "Dried fruit", "Chocolate"],
    ),
    ("CAB", "m", "Standard 19%", True, (1, 12), ["Network cable Cat6", "Power cable 3x1.5", "Fibre patch"]),
    (
        "EDU",
        "h",
        "Exempt 0%",
        False,
        (20, 90),
        ["Accredited course", "Certification exam", "Workshop for schools", "E-learning seat"],
    ),
    ("MED", "pcs", "Reduced 9%", True, (4, 120), ["First aid kit", "Ergonomic insole", "Blood pressure monitor"]),
)


async def seed_products(session: AsyncSession, rng: random.Random) -> int:
    """Insert the demo catalogue; returns how many products went in."""
    rates = {r.name: r.id for r in (await session.scalars(select(TaxRate))).all()}
    currency = await settings.get(session, "sales.base_currency")
    rows = []
    for prefix, unit, rate_name, tracked, (low, high), names in FAMILIES:
        for n, name in enumerate(names, start=1):
            price = Decimal(rng.randint(low * 100, high * 100)) / 100
            rows.append(
                {
                    "sku": f"{prefix}-{n:03d}",
                    "name": name,
                    "unit": unit,
                    "unit_price": price,
                    "currency": currency,
                    "tax_rate_id": rates[rate_name],
                    "stock_tracked": tracked,
                    "active": rng.random() > 0.07,
                    "description": f"{name}, sold per {unit}.",
                }
            )
    await session.execute(insert(Product), rows)
    return len(rows)
