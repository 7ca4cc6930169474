"""The Clients module: the searchable, server-paged list (list.py), one window per client with its
contacts, notes, follow-ups and timeline (detail.py), and the client and contact dialogs (dialogs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.clients.list import ClientsPage

    return ClientsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The list with the demo's clients, then one client's window (the first with an email) on its
    details, its invoices and its deals (a client with a partly paid invoice when the demo has one)."""
    from crm_desktop.api import invoices as invoices_api
    from crm_desktop.views.clients.detail import open_client
    from crm_desktop.views.clients.list import ClientsPage
    from crm_server.contract.invoices import InvoiceQuery, InvoiceStatus

    ctx.main.open_module("clients")
    page = ctx.main.pages["clients"].content
    if not isinstance(page, ClientsPage):
        return
    # A client who still owes part of an invoice, for the whole picture (asked now, read after the shot).
    owing = ctx.run(invoices_api.list_invoices(ctx.api, InvoiceQuery(status=InvoiceStatus.partially_paid, limit=1)))
    yield "clients", page
    rows = page.model.rows()
    if rows:
        with_contacts = next((r for r in rows if r.email), rows[0])
        page.table.select_key(with_contacts.id)
        found = owing.result().items if owing.done() and not owing.exception() else []
        window = open_client(page, ctx.session, found[0].client_id if found else with_contacts.id)
        window.resize(ctx.size)
        yield "client-detail", window
        for key in ("invoices", "deals"):  # the whole picture: a tab per area, with its totals
            tab = window.area_tabs.get(key)
            if tab is not None:
                window.tabs.setCurrentWidget(tab)
                yield f"client-{key}", window
        window.close()
