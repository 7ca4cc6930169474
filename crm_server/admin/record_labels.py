"""The name or number of the record an audit entry is about ("Ana Pop", "INV-2026-0007", "#1042
Printer jams"), so the audit log says which record, not "Lead #2981".

One query per page of entries: a CASE over the entry's record type picks the record's label from
its own table by primary key. A record deleted since has no label (the entry keeps its number).
The expressions are fixed SQL written here, never built from input.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.jobs import registry

# record type -> SQL giving its label, from the audited record's id `a.entity_id`.
LABELS: dict[str, str] = {
    "lead": "SELECT person_name FROM leads WHERE id = a.entity_id",
    "client": "SELECT name FROM clients WHERE id = a.entity_id",
    "contact": "SELECT name FROM contacts WHERE id = a.entity_id",
    "follow_up": (
        "SELECT coalesce(l.person_name, c.name) FROM follow_ups f LEFT JOIN leads l ON l.id = f.lead_id"
        " LEFT JOIN clients c ON c.id = f.client_id WHERE f.id = a.entity_id"
    ),
    "note": "SELECT left(body, 60) FROM notes WHERE id = a.entity_id",
    "pipeline": "SELECT name FROM pipelines WHERE id = a.entity_id",
    "pipeline_status": (
        "SELECT p.name || ' · ' || s.name FROM pipeline_statuses s JOIN pipelines p ON p.id = s.pipeline_id"
        " WHERE s.id = a.entity_id"
    ),
    "lost_reason": "SELECT name FROM lost_reasons WHERE id = a.entity_id",
    "lead_source": "SELECT name FROM lead_sources WHERE id = a.entity_id",
    "assignment_rule": "SELECT name FROM assignment_rules WHERE id = a.entity_id",
    "ticket": "SELECT '#' || number || ' ' || subject FROM tickets WHERE id = a.entity_id",
    "ticket_category": "SELECT name FROM ticket_categories WHERE id = a.entity_id",
    "ticket_comment": (
        "SELECT '#' || t.number || ' ' || t.subject FROM ticket_comments m JOIN tickets t ON t.id = m.ticket_id"
        " WHERE m.id = a.entity_id"
    ),
    "proposal": (
        "SELECT coalesce(p.number, p.title, 'Draft for ' || coalesce(c.name, l.person_name)) FROM proposals p"
        " LEFT JOIN clients c ON c.id = p.client_id LEFT JOIN leads l ON l.id = p.lead_id WHERE p.id = a.entity_id"
    ),
    "invoice": (
        "SELECT coalesce(i.number, 'Draft for ' || c.name) FROM invoices i JOIN clients c ON c.id = i.client_id"
        " WHERE i.id = a.entity_id"
    ),
    "payment": (
        "SELECT 'For ' || coalesce(i.number, 'a draft invoice') FROM payments p JOIN invoices i ON i.id = p.invoice_id"
        " WHERE p.id = a.entity_id"
    ),
    "product": "SELECT name || ' (' || sku || ')' FROM products WHERE id = a.entity_id",
    "stock_product_settings": "SELECT name || ' (' || sku || ')' FROM products WHERE id = a.entity_id",
    "tax_rate": "SELECT name FROM tax_rates WHERE id = a.entity_id",
    "warehouse": "SELECT name FROM warehouses WHERE id = a.entity_id",
    "stock_document": "SELECT number FROM stock_documents WHERE id = a.entity_id",
    "stock_reservation": (
        "SELECT p.name || ' (' || p.sku || ')' FROM stock_reservations r JOIN products p ON p.id = r.product_id"
        " WHERE r.id = a.entity_id"
    ),
    "sales_order": "SELECT number FROM sales_orders WHERE id = a.entity_id",
    "purchase_order": "SELECT number FROM purchase_orders WHERE id = a.entity_id",
    "user": "SELECT full_name FROM users WHERE id = a.entity_id",
    "role": "SELECT name FROM roles WHERE id = a.entity_id",
    "team": "SELECT name FROM teams WHERE id = a.entity_id",
    "web_form": "SELECT name FROM web_forms WHERE id = a.entity_id",
    "email_pipe_log": "SELECT nullif(subject, '') FROM email_pipe_log WHERE id = a.entity_id",
    "automation_rule": "SELECT name FROM automation_rules WHERE id = a.entity_id",
    "webhook_subscription": "SELECT name FROM webhook_subscriptions WHERE id = a.entity_id",
    "webhook_delivery": (
        "SELECT s.name || ' · ' || d.event_type FROM webhook_deliveries d"
        " JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE d.id = a.entity_id"
    ),
    "commission_policy": "SELECT name FROM commission_policies WHERE id = a.entity_id",
    "commission": (
        "SELECT coalesce(u.full_name, p.name) || ' · ' || coalesce(i.number, 'a draft invoice') FROM commissions c"
        " LEFT JOIN users u ON u.id = c.user_id LEFT JOIN partners p ON p.id = c.partner_id"
        " JOIN invoices i ON i.id = c.invoice_id WHERE c.id = a.entity_id"
    ),
    # A job's row is purged after a while; the entry itself says which task ran (its words: below).
    "job": "SELECT a.changes -> 0 ->> 'new'",
}

_QUERY = text(
    "SELECT a.id, a.entity, CASE a.entity "
    + " ".join(f"WHEN '{entity}' THEN ({sql})" for entity, sql in LABELS.items())
    + " END AS label FROM audit_log a WHERE a.id = ANY(:ids)"
)


async def labels(session: AsyncSession, entry_ids: Iterable[int]) -> dict[int, str]:
    """Audit entry id -> the label of its record, for the entries whose record still has one."""
    ids = list(entry_ids)
    if not ids:
        return {}
    found: dict[int, str] = {}
    for entry_id, entity, label in await session.execute(_QUERY, {"ids": ids}):
        if label:
            found[entry_id] = registry.title(label) if entity == "job" else label
    return found
