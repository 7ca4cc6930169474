"""/health keeps its documented shape even when the check itself fails: 503 with a Health body, never
a bare 500 or a body its OpenAPI entry does not describe."""

from __future__ import annotations

import pytest

from crm_server import health
from crm_server.contract.admin import Health
from tests.support import LiveServer


async def test_a_failing_check_answers_503_with_the_health_shape(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_db: object) -> str | None:
        raise RuntimeError("the probe itself broke")

    monkeypatch.setattr(health, "probe_database", broken)  # the server runs in this process
    async with server.client() as api:
        answer = await api.get("/health")
    assert answer.status_code == 503
    body = Health.model_validate(answer.json())
    assert body.status == "degraded" and body.down == ["server"]
    assert body.database.status == "down" and "RuntimeError" in (body.database.detail or "")
