"""Sample data for `crm-desktop --demo` and screenshots: teams, a few people in every built-in role,
and the sales side (clients, leads in every status, notes, follow-ups; crm_server.leads.demo),
products, stock in three warehouses with purchase orders in every status (crm_server.stock.demo), and
invoices and proposals in every status (crm_server.invoices.demo), website forms (crm_server.webforms.demo),
web shop orders (crm_server.orders.demo) and the integrations inbox's history (crm_server.integrations.demo).

Idempotent: `seed()` does nothing when the demo admin exists already. Every demo account signs in
with DEMO_PASSWORD; the admin is DEMO_ADMIN_EMAIL."""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.admin import service as admin_service
from crm_server.auth import passwords, users
from crm_server.auth.models import Role, Team, User
from crm_server.commissions.demo import seed_commissions
from crm_server.integrations.demo import seed_integrations
from crm_server.invoices.demo import principal_of, seed_invoices
from crm_server.leads.demo import seed_leads
from crm_server.orders.demo import seed_orders
from crm_server.partners.demo import seed_partners
from crm_server.products.demo import seed_products
from crm_server.stock.demo import seed_stock
from crm_server.tickets.demo import seed_tickets
from crm_server.webforms.demo import seed_web_forms

DEMO_ADMIN_EMAIL = "admin@demo.local"
DEMO_ADMIN_NAME = "Alex Admin"
DEMO_PASSWORD = "Demo-CRM-sunflower-42"

TEAMS = ("Sales North", "Sales South", "Customer Support", "Back Office")

# (email, full name, role, team, phone)
PEOPLE = (
    ("maria.manager@demo.local", "Maria Lindqvist", "Manager", "Sales North", "+46 70 123 45 01"),
    ("omar.manager@demo.local", "Omar Haddad", "Manager", "Sales South", "+46 70 123 45 02"),
    ("sam.sales@demo.local", "Sam Okafor", "Salesperson", "Sales North", "+46 70 123 45 11"),
    ("lena.sales@demo.local", "Lena Novak", "Salesperson", "Sales North", None),
    ("tomas.sales@demo.local", "Tomás Ortega", "Salesperson", "Sales South", "+46 70 123 45 13"),
    ("priya.support@demo.local", "Priya Raman", "Support agent", "Customer Support", None),
    ("jon.support@demo.local", "Jon Berg", "Support agent", "Customer Support", "+46 70 123 45 22"),
    ("ana.accounts@demo.local", "Ana Kowalska", "Accountant", "Back Office", None),
    ("felix.stock@demo.local", "Felix Brandt", "Warehouse", "Back Office", "+46 70 123 45 31"),
)

ADMIN_NOTIFICATIONS = (
    ("welcome", "Welcome to the demo", "Everyone here signs in with the demo password; try another role."),
    ("security", "Two-factor sign-in is available", "Protect your account from the user menu."),
    ("user", "Sam Okafor joined Sales North", ""),
)


def accounts() -> list[tuple[str, str, str]]:
    """Who a person may sign in as in the demo, (email, full name, role), the admin first; each
    signs in with DEMO_PASSWORD (the demo's login window lists them)."""
    return [(DEMO_ADMIN_EMAIL, DEMO_ADMIN_NAME, "Admin"), *((e, name, role) for e, name, role, _, _ in PEOPLE)]


async def seed(session: AsyncSession) -> bool:
    """Fill an empty, migrated database with the demo; False when it was there already."""
    exists = await session.scalar(select(User.id).where(func.lower(User.email) == DEMO_ADMIN_EMAIL))
    if exists is not None:
        return False
    admin = await users.create_first_admin(session, DEMO_ADMIN_EMAIL, DEMO_ADMIN_NAME, DEMO_PASSWORD)
    admin.phone = "+46 70 123 45 00"
    team_ids: dict[str, int] = {}
    for name in TEAMS:
        team = await session.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = Team(name=name)
            session.add(team)
            await session.flush()
        team_ids[name] = team.id
    roles = {name.lower(): role_id for role_id, name in (await session.execute(select(Role.id, Role.name))).all()}
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    people: dict[str, User] = {}
    for email, full_name, role, team_name, phone in PEOPLE:
        person = User(
            email=email,
            full_name=full_name,
            role_id=roles[role.lower()],
            team_id=team_ids[team_name],
            phone=phone,
            password_hash=password_hash,
        )
        session.add(person)
        people[email] = person
    await session.flush()
    for name, lead in (("Sales North", "maria.manager@demo.local"), ("Sales South", "omar.manager@demo.local")):
        team = await session.get(Team, team_ids[name])
        assert team is not None
        team.lead_user_id = people[lead].id
    await session.flush()
    sellers = [p for p in people.values() if p.role_id in (roles["manager"], roles["salesperson"])]
    await seed_leads(session, sellers, random.Random(2026))
    await seed_tickets(session, random.Random(2027), password_hash)
    await seed_products(session, random.Random(2028))
    await seed_stock(session, admin.id, random.Random(2030))
    await seed_invoices(session, admin.id, random.Random(2029))
    # Integrations (after products, stock, leads and invoices, which their events touch).
    await seed_web_forms(session, await principal_of(session, admin.id))
    await seed_orders(session, random.Random(2031))
    await seed_integrations(session, admin.id, random.Random(2032))
    await seed_commissions(session, admin.id, sellers, random.Random(2033))
    await seed_partners(session, sellers, password_hash, random.Random(2034))  # they sign in to /portal
    for kind, title, body in ADMIN_NOTIFICATIONS:
        admin_service.notify(session, admin.id, kind, title, body)
    return True
