"""Keyset paging on every list the desktop scrolls, through HTTP: a few more rows than a page, walked
page after page by the cursor each full page gives (`next`, sent back as `after`), come each once and
in the list's order (the same order one big page by offset gives; empties last on a nullable sort);
a garbled cursor is a 422 naming `after`. A list whose order a cursor cannot serve gives no `next`."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.support import LiveServer

GARBLED = ("not base64!", "bm9wZQ", "WzFd")  # not base64; base64 of "nope"; of "[1]" (one value)


async def walk(api: httpx.AsyncClient, path: str, limit: int = 2, **params: Any) -> list[dict[str, Any]]:
    """Every row of the list, page after page by the cursor each full page gives."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        extra = {"after": after} if after else {}
        answer = await api.get(path, params={**params, "offset": len(seen), "limit": limit, **extra})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += page["items"]
        after = page["next"]
        if after is None:
            assert len(page["items"]) <= limit
            return seen
        assert len(page["items"]) == limit


async def whole(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """The list as one page by offset: the order a walk must keep."""
    answer = await api.get(path, params={**params, "limit": 500})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["next"] is None and page["total_exact"] is True
    items: list[dict[str, Any]] = page["items"]
    return items


async def same_walk(
    api: httpx.AsyncClient, path: str, at_least: int, key: str = "id", limit: int = 2, **params: Any
) -> list[dict[str, Any]]:
    """Walked by cursor, the list is the offset list, each row once; returns it."""
    walked = await walk(api, path, limit, **params)
    assert len(walked) >= at_least > limit, (path, params, len(walked))
    keys = [row[key] for row in walked]
    assert len(set(keys)) == len(keys), (path, params, "a row came twice")
    assert keys == [row[key] for row in await whole(api, path, **params)], (path, params)
    return walked


async def refuses_garbled(api: httpx.AsyncClient, path: str, **params: Any) -> None:
    for bad in GARBLED:
        answer = await api.get(path, params={**params, "after": bad})
        assert answer.status_code == 422, (path, bad, answer.text)
        assert answer.json()["field"] == "after", (path, bad, answer.text)


def sql(server: LiveServer, *statements: str) -> None:
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def ordered(values: list[Any], descending: bool) -> bool:
    return values == sorted(values, reverse=descending)


# --- clients ---------------------------------------------------------------------------------------


async def test_clients(server: LiveServer, admin: httpx.AsyncClient) -> None:
    for name in ("Delta", "alpha", "Charlie", "Bravo", "Alpha", "echo", "bravo"):
        made = await admin.post("/api/clients", json={"name": name})
        assert made.status_code == 201, made.text
    for sort in ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"):
        rows = await same_walk(admin, "/api/clients", 7, sort=sort)
        if sort.endswith("name"):
            keys = [(r["name"].lower(), r["id"]) for r in rows]
            assert ordered(keys, sort.startswith("-")), sort
    await refuses_garbled(admin, "/api/clients")
