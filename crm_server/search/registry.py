"""Search providers: each area that wants its records in the global search adds a module to
PROVIDER_MODULES that calls `register` on import (tickets and invoices will add theirs)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.permissions import Principal
from crm_server.contract.search import SearchHit

PROVIDER_MODULES = ["crm_server.leads.search", "crm_server.clients.search"]
PROVIDER_MODULES.append("crm_server.tickets.search")


@dataclass(frozen=True)
class Terms:
    """The query as providers use it: the text and its LIKE pattern; for something typed like a phone
    number, its E.164 form and a pattern of its digits; for a number, the number (a record's id)."""

    text: str
    pattern: str
    phone: str | None = None
    digits_pattern: str | None = None
    number: int | None = None


# (session, principal, terms, limit) -> up to `limit + 1` hits, best first (one more tells "more").
Search = Callable[[AsyncSession, Principal, Terms, int], Awaitable[list[SearchHit]]]


@dataclass(frozen=True)
class Provider:
    type: str  # what the hits are: lead, client, contact
    label: str  # the group's title: Leads, Clients, Contacts
    module: str  # the permission module whose "view" the user needs
    search: Search
    order: int = 100


_PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    _PROVIDERS[provider.type] = provider


def providers() -> list[Provider]:
    for module in PROVIDER_MODULES:
        importlib.import_module(module)
    return sorted(_PROVIDERS.values(), key=lambda p: (p.order, p.type))
