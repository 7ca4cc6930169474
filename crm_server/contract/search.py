"""Global search on the wire: results grouped by type, each group short."""

from __future__ import annotations

from pydantic import Field

from crm_server.contract.common import Model


class SearchHit(Model):
    type: str  # lead, client, contact, ...
    id: int
    title: str
    subtitle: str | None = None
    parent_id: int | None = None  # a contact's client
    archived: bool = False


class SearchGroup(Model):
    type: str
    label: str
    items: list[SearchHit]
    more: bool = Field(default=False, description="there are more matches than shown: refine or open the list")


class SearchResults(Model):
    q: str
    groups: list[SearchGroup]
