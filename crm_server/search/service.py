"""Global search: the same terms go to every provider the user may use; each answers its best few,
scope-filtered, from a trigram index (pg_trgm GIN) so a million rows answer as fast as a thousand."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import settings
from crm_server.auth.permissions import Principal
from crm_server.clients.normalise import phone_or_none
from crm_server.contract.search import SearchGroup, SearchResults
from crm_server.paging import like_pattern
from crm_server.search.registry import Terms, providers

MIN_LENGTH = 2
_NUMBER = re.compile(r"^#?\s*(\d{1,18})$")
_PHONEISH = re.compile(r"^[\d\s()+./-]{6,}$")


def make_terms(q: str, default_country: str) -> Terms:
    text = " ".join(q.split())
    number = _NUMBER.match(text)
    phone = digits = None
    if _PHONEISH.match(text):
        phone = phone_or_none(text, default_country)
        digits = re.sub(r"\D", "", text)
    return Terms(
        text=text,
        pattern=like_pattern(text),
        phone=phone,
        digits_pattern=like_pattern(digits) if digits and len(digits) >= 4 else None,
        number=int(number.group(1)) if number else None,
    )


async def search(
    session: AsyncSession, principal: Principal, q: str, limit: int, types: set[str] | None = None
) -> SearchResults:
    query = make_terms(q, str(await settings.get(session, "company.default_country")))
    if len(query.text) < MIN_LENGTH and query.number is None:
        return SearchResults(q=query.text, groups=[])
    groups = []
    for provider in providers():
        if (types and provider.type not in types) or not principal.can(provider.module, "view"):
            continue
        hits = await provider.search(session, principal, query, limit)
        groups.append(SearchGroup(type=provider.type, label=provider.label, items=hits[:limit], more=len(hits) > limit))
    return SearchResults(q=query.text, groups=groups)
