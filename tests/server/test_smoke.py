from tests.support import ADMIN_EMAIL, LiveServer


async def test_health_and_login(server: LiveServer) -> None:
    async with server.client() as api:
        health = await api.get("/health")
        assert health.json()["database"]["status"] == "ok", health.text
        await server.login_admin(api)
        me = await api.get("/api/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["email"] == ADMIN_EMAIL
        assert "admin" in me.json()["permissions"]
