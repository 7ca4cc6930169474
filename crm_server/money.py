"""The one place amounts are rounded. Pure functions on Decimal, no database: proposals, invoices
and reports all total their lines here, so the same lines always give the same cents.

Rounding is half-up (away from zero on a tie, so a credit note mirrors its invoice) to the
currency's minor unit. Document totals are built from rounded parts, so parts always add up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal

from crm_server.contract.common import minor_unit as minor_unit  # callers say money.minor_unit

TaxRounding = Literal["line", "document"]
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def tax_rounding(value: object) -> TaxRounding:
    """The `sales.tax_rounding` setting as a TaxRounding; anything else is refused (ValueError)."""
    text = str(value)
    if text == "line":
        return "line"
    if text == "document":
        return "document"
    raise ValueError(f"unknown tax rounding {text!r}")


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal | int | str, currency: str) -> Decimal:
    """Half-up to the minor unit: 0.125 EUR -> 0.13, -0.125 -> -0.13, 12.5 JPY -> 13."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    """What a document line says: quantity x unit price, less a discount percent, taxed at a rate."""

    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal  # percent: 19 for 19%
    discount_percent: Decimal = ZERO


@dataclass(frozen=True)
class LineTotal:
    net: Decimal  # after discount, rounded
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class TaxBucket:
    """One VAT rate's share of a document: what the invoice prints per rate."""

    rate: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineTotal, ...]
    taxes: tuple[TaxBucket, ...]  # by rate, highest first
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_net(line: Line, currency: str) -> Decimal:
    """Quantity x price less the discount, rounded once (not per step, which would drift)."""
    if not ZERO <= line.discount_percent <= HUNDRED:
        raise ValueError("discount percent must be between 0 and 100")
    return round_money(line.quantity * line.unit_price * (HUNDRED - line.discount_percent) / HUNDRED, currency)


def tax_of(base: Decimal, rate: Decimal, currency: str) -> Decimal:
    return round_money(base * rate / HUNDRED, currency)


def line_total(line: Line, currency: str) -> LineTotal:
    """A line on its own, its tax rounded on the line (what "line" rounding sums up)."""
    net = line_net(line, currency)
    tax = tax_of(net, line.tax_rate, currency)
    return LineTotal(net=net, tax=tax, gross=net + tax)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `total` over `weights` in minor units so the parts sum exactly to `total` (largest
    remainder): how a document-rounded tax is shown per line without losing a cent."""
    if not weights:
        return []
    step = quantum(currency)
    weight_sum = sum(weights, ZERO)
    if weight_sum == ZERO:
        parts = [ZERO] * len(weights)
        parts[0] = total
        return parts
    exact = [total * w / weight_sum for w in weights]
    # Truncate toward zero in minor units, then hand out what is left to the largest remainders.
    floors = [(e / step).to_integral_value(rounding=ROUND_DOWN) * step for e in exact]
    left = int(((total - sum(floors, ZERO)) / step).to_integral_value())
    sign = 1 if left >= 0 else -1
    order = sorted(range(len(weights)), key=lambda i: abs(exact[i] - floors[i]), reverse=True)
    for i in order[: abs(left)]:
        floors[i] += sign * step
    return floors


def document_totals(lines: Iterable[Line], currency: str, tax_rounding: TaxRounding = "line") -> Totals:
    """Totals of a document. "line": each line's tax rounded, the rate's tax is their sum.
    "document": the rate's tax is the rounded tax of the summed line nets, shown per line by
    `allocate`. Either way net + tax == gross for every line, rate and the whole document."""
    if tax_rounding not in ("line", "document"):
        raise ValueError(f"unknown tax rounding {tax_rounding!r}")
    items = list(lines)
    computed = [line_total(line, currency) for line in items]
    by_rate: dict[Decimal, list[int]] = {}
    for i, line in enumerate(items):
        by_rate.setdefault(Decimal(line.tax_rate).normalize(), []).append(i)
    taxes: list[TaxBucket] = []
    for rate, indexes in sorted(by_rate.items(), reverse=True):
        base = sum((computed[i].net for i in indexes), ZERO)
        if tax_rounding == "document":
            tax = tax_of(base, rate, currency)
            shares = allocate(tax, [computed[i].net for i in indexes], currency)
            for i, share in zip(indexes, shares, strict=True):
                computed[i] = LineTotal(net=computed[i].net, tax=share, gross=computed[i].net + share)
        else:
            tax = sum((computed[i].tax for i in indexes), ZERO)
        taxes.append(TaxBucket(rate=rate, base=base, tax=tax))
    net = sum((c.net for c in computed), round_money(0, currency))
    tax_total = sum((t.tax for t in taxes), round_money(0, currency))
    return Totals(lines=tuple(computed), taxes=tuple(taxes), net=net, tax=tax_total, gross=net + tax_total)
