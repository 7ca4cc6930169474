"""The reconciliation with the web shop: WooCommerce never retries a webhook and turns a failing one
off, so every few minutes the orders the store changed lately are read from its REST API and fed
into the inbox as events. An order state the inbox has (by webhook or an earlier run) is a duplicate
and changes nothing; a missed one fills the gap through the same handler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_server.admin import settings
from crm_server.db import Database, utcnow
from crm_server.integrations import inbox, woocommerce
from crm_server.integrations.providers import Malformed, NeedsAttention

HEADERS = {"x-wc-webhook-topic": "order.updated", "x-crm-source": "reconciliation"}
BATCH = 100  # orders stored per transaction


@dataclass
class Summary:
    read: int = 0
    queued: int = 0
    known: int = 0
    unreadable: int = 0

    def text(self, since: datetime) -> str:
        words = (
            f"WooCommerce: {self.read} orders changed since {since:%Y-%m-%d %H:%M} UTC, {self.queued} new "
            f"states queued, {self.known} already known"
        )
        return words + (f", {self.unreadable} unreadable" if self.unreadable else "")


async def run(db: Database, now: datetime | None = None) -> str:
    """Read, then store in short transactions (no transaction is held while the store answers)."""
    async with db.transaction() as session:
        values = await settings.get_all(session)
    if not woocommerce.configured(values):
        return "WooCommerce is not configured: nothing to reconcile."
    since = (now or utcnow()) - timedelta(hours=int(values["woocommerce.reconcile_hours"]))
    try:
        orders = await woocommerce.fetch_orders(values, since)
    except NeedsAttention as exc:
        async with db.transaction() as session:
            await inbox.set_problem(session, woocommerce.PROVIDER, exc.reason)
        return f"WooCommerce reconciliation failed: {exc.reason}"
    summary = Summary(read=len(orders))
    for start in range(0, len(orders), BATCH):
        async with db.transaction() as session:
            for order in orders[start : start + BATCH]:
                try:
                    event = woocommerce.order_event(order)
                except Malformed:
                    summary.unreadable += 1
                    continue
                answer = await inbox.accept(
                    session,
                    woocommerce.PROVIDER,
                    [event],
                    headers=HEADERS,
                    body=json.dumps(order).encode(),
                    remote=None,
                )
                summary.queued += answer.accepted
                summary.known += answer.duplicates
    async with db.transaction() as session:
        await inbox.clear_problem(session, woocommerce.PROVIDER)
    return summary.text(since)
