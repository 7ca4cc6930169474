"""How an invoice's sending reads, for the list and the editor: "Sent 05 Dec 2026, 18:13",
"Failed: <reason>", "Queued for sending…", "Unsent"."""

from __future__ import annotations

from crm_desktop.format import label, moment
from crm_server.contract.invoices import InvoiceOut, SendStatus

SEND_LABELS = {SendStatus.queued: "Queued for sending…"}  # the rest in format.label's words


def send_label(invoice: InvoiceOut) -> str:
    status = invoice.send_status
    if status == SendStatus.sent:
        return f"Sent {moment(invoice.sent_at)}" if invoice.sent_at else "Sent"
    if status == SendStatus.failed:
        return f"Failed: {invoice.send_error or 'no reason given'}"
    return SEND_LABELS.get(status) or label(status)
