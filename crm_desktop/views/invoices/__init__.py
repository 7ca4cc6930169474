"""The Invoices module: the filtered, server-paged list (list.py), one window per invoice with its
line grid, payments, PDF preview, sending and recurrence (editor.py) and its dialogs (dialogs.py).

    create_page(session) -> InvoicesPage         # the sidebar's "Invoices" (see views/modules.py)
    open_record(parent, session, "invoice", id)  # a link or search hit that names an invoice
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session

__all__ = ["create_page", "open_record", "screenshot_states"]


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.invoices.list import InvoicesPage

    return InvoicesPage(session)


def open_record(parent: QWidget | None, session: Session, record_type: str, record_id: int) -> QWidget | None:
    """Open an invoice's (or credit note's) window from anywhere; the page offers the same as a method."""
    if record_type not in ("invoice", "credit_note"):
        return None
    from crm_desktop.views.invoices.editor import open_invoice

    return open_invoice(parent, session, record_id)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's invoices, the editor on a partly paid one (or the first), its payment
    dialog and its PDF preview."""
    from crm_desktop.views.invoices.editor import InvoiceWindow, open_invoice
    from crm_desktop.views.invoices.list import InvoicesPage

    ctx.main.open_module("invoices")
    page = ctx.main.pages["invoices"].content
    if not isinstance(page, InvoicesPage):
        return
    yield "invoices", page
    rows = page.model.rows()
    if not rows:
        return
    row = next(
        (r for r in rows if r.status == "partially_paid"),
        next((r for r in rows if r.status in ("unpaid", "overdue")), rows[0]),
    )
    page.table.select_key(row.id)
    window = open_invoice(page, ctx.session, row.id)
    window.resize(ctx.size)
    yield "invoice-editor", window
    if isinstance(window, InvoiceWindow):
        payment = window.record_payment()
        if payment is not None:
            yield "invoice-payment-dialog", payment
            payment.close()
        preview = window.preview_pdf()
        if preview is not None:
            yield "invoice-pdf-preview", preview
            preview.close()
    window.close()
