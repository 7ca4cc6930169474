"""The --demo sample data: every built-in role has people, filling twice changes nothing, and the
demo admin signs in with the documented password."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm_server.auth.models import Role, User
from crm_server.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed
from crm_server.leads.models import Lead
from crm_server.tickets.models import Ticket
from tests.support import LiveServer


def test_demo_data_is_filled_once_and_the_admin_signs_in(server: LiveServer) -> None:
    async def scenario() -> None:
        async with server.session() as s:
            assert await seed(s) is True
        async with server.session() as s:
            assert await seed(s) is False
            per_role = dict((await s.execute(select(Role.name, func.count(User.id)).join(
                User, User.role_id == Role.id).group_by(Role.name))).all())
            users = await s.scalar(select(func.count()).select_from(User))
            leads = await s.scalar(select(func.count()).select_from(Lead))
            tickets = await s.scalar(select(func.count()).select_from(Ticket))
        assert set(per_role) == {"Admin", "Manager", "Salesperson", "Support agent", "Accountant", "Warehouse"}
        assert users == 15 and leads and leads > 1000  # 10 people, and 5 support agents and managers
        assert tickets and tickets > 100
        async with server.client() as http:
            body = await server.login(http, DEMO_ADMIN_EMAIL, DEMO_PASSWORD)
            assert body["user"]["role_name"] == "Admin"
            unread = (await http.get("/api/notifications/unread-count")).json()["unread"]
            assert unread == 3

    asyncio.run(scenario())
