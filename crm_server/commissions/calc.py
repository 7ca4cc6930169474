"""Commission arithmetic, pure Decimal (no database), so the worked examples in the tests and the
job agree to the cent.

Tiers are MARGINAL, like income-tax brackets. A tier is (threshold, rate): from `threshold` on,
until the next tier's threshold, `rate` applies.
- Percent policies: the threshold is the net amount paid in the month so far (per policy and
  beneficiary, in the payment's month). Tiers (0: 5%) and (10,000: 7%) with 8,000 already paid
  this month and a payment of 4,000 net give 2,000 x 5% + 2,000 x 7% = 100 + 140 = 240.
  Below the first threshold nothing is earned.
- Fixed policies: the threshold is the deal's number in the month (1 = the first deal); the deal
  earns the rate of the highest tier it reaches. Tiers (1: 100) and (6: 150): deals 1-5 earn 100
  each, the sixth and later 150 each.

A percent commission is on the NET part of a payment (VAT left out): payment x invoice net /
invoice gross, rounded to the currency's minor unit. Every result is rounded once, half-up, by
crm_server.money.round_money (cents for EUR)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from crm_server import money

HUNDRED = Decimal(100)
ZERO = Decimal(0)
Tier = tuple[Decimal, Decimal]  # (threshold, rate)


def _sorted(tiers: Sequence[Tier]) -> list[Tier]:
    return sorted(tiers, key=lambda t: t[0])


def net_part(payment: Decimal, invoice_net: Decimal, invoice_gross: Decimal, currency: str) -> Decimal:
    """The VAT-free share of a payment: 1,190.00 paid on an invoice of 1,000 net / 1,190 gross is
    1,000.00; 595.00 of it is 500.00."""
    if invoice_gross <= ZERO:
        return money.round_money(ZERO, currency)
    return money.round_money(payment * invoice_net / invoice_gross, currency)


def percent_commission(tiers: Sequence[Tier], month_before: Decimal, base: Decimal, currency: str) -> Decimal:
    """What `base` earns on top of `month_before` already counted this month, tier by tier."""
    earned = ZERO
    start, end = month_before, month_before + base
    ordered = _sorted(tiers)
    for i, (threshold, rate) in enumerate(ordered):
        upper = ordered[i + 1][0] if i + 1 < len(ordered) else None
        low = max(start, threshold)
        high = end if upper is None else min(end, upper)
        if high > low:
            earned += (high - low) * rate / HUNDRED
    return money.round_money(earned, currency)


def fixed_commission(tiers: Sequence[Tier], deal_number: int, currency: str) -> Decimal:
    """What the `deal_number`-th deal of the month earns (0 below the first tier)."""
    rate = ZERO
    for threshold, tier_rate in _sorted(tiers):
        if Decimal(deal_number) >= threshold:
            rate = tier_rate
    return money.round_money(rate, currency)


def still_owed(
    original: Decimal, kept_now: Decimal, kept_then: Decimal | None, credited: bool, currency: str
) -> Decimal:
    """What a commission is worth after refunds and credit notes: the share of the money still kept
    (a 30% refund keeps 70% of the commission), nothing once its invoice is credited. A by-hand
    commission (`kept_then` None) follows only the credit note."""
    if credited:
        return money.round_money(ZERO, currency)
    if kept_then is None or kept_then <= ZERO:
        return original
    share = min(max(kept_now, ZERO), kept_then) / kept_then
    return money.round_money(original * share, currency)
