"""The contract's transition tables are the one truth the services refuse moves by (and the desktop
builds its buttons from): every status has its row, and a closed record offers nothing."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from crm_server.contract.invoices import INVOICE_ACTIONS, InvoiceAction, InvoiceStatus, invoice_allows
from crm_server.contract.proposals import ALLOWED_MOVES, ProposalStatus
from crm_server.contract.purchasing import PURCHASE_ACTIONS, PurchaseAction, PurchaseStatus, purchase_allows
from crm_server.contract.stock import DOCUMENT_ACTIONS, DocumentAction, DocumentStatus, document_allows
from crm_server.contract.tickets import TRANSITIONS, TicketStatus

TABLES: list[tuple[dict[Any, frozenset[Any]], type[StrEnum], tuple[str, ...]]] = [
    (INVOICE_ACTIONS, InvoiceStatus, ("cancelled",)),
    (DOCUMENT_ACTIONS, DocumentStatus, ("reversed", "cancelled")),
    (PURCHASE_ACTIONS, PurchaseStatus, ("received", "cancelled")),
    (ALLOWED_MOVES, ProposalStatus, ("accepted", "declined")),
    (TRANSITIONS, TicketStatus, ()),
]


@pytest.mark.parametrize(("table", "statuses", "closed"), TABLES)
def test_every_status_has_its_row_and_closed_ones_offer_nothing(
    table: dict[Any, frozenset[Any]], statuses: type[StrEnum], closed: tuple[str, ...]
) -> None:
    assert set(table) == set(statuses)
    assert all(not table[statuses(s)] for s in closed)


def test_the_lookups_read_the_status_as_stored() -> None:
    assert invoice_allows("draft", InvoiceAction.issue) and not invoice_allows("paid", InvoiceAction.pay)
    assert invoice_allows("paid", InvoiceAction.refund) and not invoice_allows("cancelled", InvoiceAction.send)
    assert document_allows("validated", DocumentAction.reverse)
    assert not document_allows("validated", DocumentAction.edit)
    assert purchase_allows("confirmed", PurchaseAction.edit_delivery)
    assert not purchase_allows("confirmed", PurchaseAction.edit)
    with pytest.raises(ValueError):
        invoice_allows("lost", InvoiceAction.pay)
