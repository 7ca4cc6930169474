"""Typed call of the global search: one box, results grouped by type (crm_server.contract.search)."""

from __future__ import annotations

from collections.abc import Iterable

from crm_desktop.api.client import ApiClient
from crm_server.contract.search import SearchResults

# Search reads only; nothing is announced on the change bus for it.
CHANGED: frozenset[str] = frozenset()


async def search(api: ApiClient, q: str, limit: int = 5, types: Iterable[str] | None = None) -> SearchResults:
    """The hits for `q`, at most `limit` per type; `types` narrows to some (lead, client, contact ...)."""
    wanted = ",".join(types) if types is not None else None
    return SearchResults.model_validate(await api.get("/api/search", q=q, limit=limit, types=wanted or None))
