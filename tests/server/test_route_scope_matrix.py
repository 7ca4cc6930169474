"""Every route x every built-in role x records of others: 403 or 404, and nothing changed.

Generated from the OpenAPI document, so a new route is walked without anyone remembering to: each
/api path with an {id} parameter gets the id of a record an admin made in setup for a salesperson
of another team (South), and is called as each built-in role placed in North. A role whose
permission reaches the record anyway (scope "all" on the record's module) is skipped, read from the
role's permissions; so is a record kind nobody owns (products, pipelines...) for a role that holds
the route's permission, as there is nothing "of others" to protect there. Everything else must
answer 403 or 404 and leave every business table as it was (a hash of each table's rows).

One server and one database for the whole module, one sync HTTP client per role."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.routing import APIRoute

from crm_server.app import create_app
from crm_server.auth.permissions import BUILTIN_ROLES
from crm_server.config import Config
from tests.support import PASSWORD, LiveServer, make_url

# Path parameters that name an owned record, and the module whose scope covers it.
OWNED = {
    "lead_id": "leads",
    "client_id": "clients",
    "contact_id": "clients",
    "follow_up_id": "activities",
    "ticket_id": "tickets",
    "attachment_id": "tickets",
    "invoice_id": "invoices",
    "payment_id": "invoices",
    "proposal_id": "proposals",
    "order_id": "orders",
    # An export is its asker's alone: no role holds "exports", so every role is walked against the admin's.
    "export_id": "exports",
    # An import is seen by those holding `import` on its entity's module: no built-in role but Admin does.
    "import_id": "imports",
    # A saved custom report is its owner's (and those it is shared with): setup's is the admin's, unshared.
    "report_id": "reports",
    # A commission is its beneficiary's (a partner's: its managing salesperson's), scoped by "commissions".
    "commission_id": "commissions",
}  # order_id under /api/orders: a sales order
# Path parameters of records nobody owns (settings an admin keeps, the catalogue, stock, the jobs
# list): only the route's permission guards them. A new parameter must be added to one of the two.
UNOWNED = {
    "backup_id",
    "campaign_id",  # an e-mail campaign: its author's or an admin's, checked by the campaigns service (404)
    "entity",  # the kind of record an import template is for
    "block_id",
    "category_id",
    "delivery_id",  # an outgoing webhook's delivery: admin permission alone
    "document_id",
    # A lead, client or ticket named by its kind ({entity}/{entity_id} of e-mails, {kind}/{record_id}
    # of WhatsApp): one parameter, several modules, so this matrix cannot walk it; each route checks
    # the record's own scope (visible_lead / visible_client / visible ticket), tested in
    # tests/server/test_emails.py and tests/server/test_whatsapp.py.
    "entity_id",
    "record_id",
    "kind",
    "event_id",
    "form_id",
    "item_id",
    "log_id",
    "partner_id",  # a partner company: admin permission alone (its leads are scoped as leads)
    "pipeline_id",
    "policy_id",  # a commission policy: admins change them, whoever sees commissions reads them
    "product_id",
    "provider",
    "registration_id",  # a partner's lead registration under review: admin permission alone
    "rate_id",
    "role_id",
    "rule_id",
    "schedule_id",  # a scheduled report: anyone who may export reports manages every schedule
    "status_id",
    "subscription_id",  # an outgoing webhook subscription: admin permission alone
    "suppression_id",  # an address on the e-mail suppression list: admin permission alone
    "template_id",  # an e-mail template: private, team or everyone, checked by the emails service
    "target_id",  # a sales target: a manager's or an admin's (not owned)
    "task",
    "team_id",
    "user_id",
    "warehouse_id",
}
# Tables a refused request may write: the security log records the denial, the session its last use.
NOT_COMPARED = {"security_log", "auth_sessions"}
ROLES = [name for name in BUILTIN_ROLES if name != "Admin"]  # Admin: scope all on everything


APP = create_app(Config(database_url="postgresql://unused/unused"))
SPEC = APP.openapi()


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router
            yield from _walk(route.original_router.routes, prefix + (route.include_context.prefix or ""))
        elif hasattr(route, "routes"):
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))


ROUTES = {
    (m, path): r
    for path, r in _walk(APP.routes)
    if path.startswith("/api/") and "{" in path and path in SPEC["paths"]
    for m in r.methods - {"HEAD", "OPTIONS"}
}


def _required(route: APIRoute) -> tuple[str, str] | None:
    """The (module, action) of the route's require(...) dependency, read from its closure."""
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        call = dep.call
        if getattr(call, "__qualname__", "") == "require.<locals>.check" and call is not None:
            cells = dict(zip(call.__code__.co_freevars, (c.cell_contents for c in call.__closure__ or ()), strict=True))
            return str(cells["module"]), str(cells["action"])
        pending.extend(dep.dependencies)
    return None


# --- the world: North (one user per built-in role) and South (whose records these are) ------------


@dataclass
class World:
    server: LiveServer
    dsn: str
    ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def _setup(admin: httpx.Client, south: int, ids: dict[str, int]) -> None:
    client = _ok(
        admin.post("/api/clients", json={"name": "South Co", "owner_id": south, "contacts": [{"name": "Sue"}]})
    )
    ids["client_id"], ids["contact_id"] = client["id"], client["contacts"][0]["id"]
    ids["lead_id"] = _ok(admin.post("/api/leads", json={"person_name": "Lena", "owner_id": south}))["id"]
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ids["follow_up_id"] = _ok(
        admin.post(
            "/api/follow-ups", json={"client_id": client["id"], "kind": "call", "due_at": due, "owner_id": south}
        )
    )["id"]
    ticket = _ok(admin.post("/api/tickets", json={"subject": "Broken", "team_id": ids["team_south"]}))
    ids["ticket_id"] = ticket["id"]
    attachment = _ok(
        admin.post(
            f"/api/tickets/{ticket['id']}/attachments",
            json={"filename": "a.txt", "content_type": "text/plain", "data": base64.b64encode(b"hello").decode()},
        )
    )
    ids["attachment_id"] = attachment["id"]
    rate = next(r["id"] for r in admin.get("/api/tax-rates").json() if r["name"] == "Standard 19%")
    line = {"description": "Work", "quantity": "1", "unit_price": "100.00", "tax_rate_id": rate}
    draft = _ok(admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]}))
    issued = _ok(admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
    ids["invoice_id"] = issued["id"]
    ids["payment_id"] = _ok(admin.post(f"/api/invoices/{issued['id']}/payments", json={"amount": "10.00"}))["id"]
    ids["proposal_id"] = _ok(admin.post("/api/proposals", json={"client_id": client["id"], "lines": [line]}))["id"]
    ids["export_id"] = _ok(admin.post("/api/exports", json={"entity": "leads", "format": "csv"}))["id"]
    upload = admin.post(
        "/api/imports",
        params={"entity": "leads", "file_name": "leads.csv"},
        content=b"Full Name,Email\nAna Pop,ana@example.com\n",
        headers={"Content-Type": "application/octet-stream"},
    )
    ids["import_id"] = _ok(upload)["item"]["id"]
    custom = {"name": "Mine", "definition": {"entity": "leads", "group_by": ["owner"]}}
    ids["report_id"] = _ok(admin.post("/api/reports/custom", json=custom))["id"]
    by_hand = {"invoice_id": issued["id"], "user_id": south, "amount": "1.00", "note": "By hand"}
    ids["commission_id"] = _ok(admin.post("/api/commissions", json=by_hand))["id"]
    ids["order_id"] = 1  # no sales order: no built-in role but Admin holds orders (see test_roles_hold_...)


@pytest.fixture(scope="module")
def world(pg_cluster: Any, clones: Any) -> Iterator[World]:
    name = clones.take()
    dsn = make_url(pg_cluster.admin_url, name)
    try:
        with LiveServer.run(dsn) as server:
            made = World(server, dsn)

            async def people() -> None:
                await server.create_user("admin@example.com", role="Admin")
                made.ids["south"] = await server.create_user("south@example.com", team="South")
                await server.create_user("south-agent@example.com", role="Support agent", team="South")
                for role in ROLES:
                    await server.create_user(f"{role.replace(' ', '-').lower()}@example.com", role=role, team="North")

            asyncio.run(people())
            for email in ["admin", *[r.replace(" ", "-").lower() for r in ROLES]]:
                api = httpx.Client(base_url=server.base_url, timeout=30)
                token = _ok(api.post("/api/auth/login", json={"email": f"{email}@example.com", "password": PASSWORD}))[
                    "token"
                ]
                api.headers["Authorization"] = f"Bearer {token}"
                made.clients[email] = api
            admin = made.clients["admin"]
            made.ids["team_south"] = next(t["id"] for t in admin.get("/api/teams").json() if t["name"] == "South")
            _setup(admin, made.ids["south"], made.ids)
            with psycopg.connect(dsn) as conn:
                made.tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                        "AND table_type = 'BASE TABLE' ORDER BY table_name"
                    )
                    if r[0] not in NOT_COMPARED
                ]
            yield made
            for api in made.clients.values():
                api.close()
    finally:
        clones.give_back(name)


def _snapshot(world: World) -> dict[str, str]:
    """A hash of every compared table's rows (order-free)."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}', md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) FROM \"{t}\" x"
        for t in world.tables
    )
    with psycopg.connect(world.dsn, autocommit=True) as conn:
        return {name: digest for name, digest in conn.execute(parts)}


# --- request bodies from the schema -----------------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _sample(schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """The smallest value the schema accepts, so the request passes parsing and meets the rules."""
    schema = _resolve(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o).get("type") != "null"] or schema[key]
            return _sample(options[0], name, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _sample(v, k, depth + 1) for k, v in props.items() if k in schema.get("required", [])}
    if kind == "array":
        return [_sample(schema["items"], name, depth + 1)] * int(schema.get("minItems", 0))
    if kind == "integer":
        if name.endswith("_id"):  # another record named in the body: one that does not exist
            return 999_999
        return 1 if name == "version" else max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return "1"
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "email":
            return "x@example.com"
        if fmt == "date":
            return "2030-01-01"
        if fmt == "date-time":
            return "2030-01-01T00:00:00Z"
        if "@" in schema.get("pattern", ""):
            return "x@example.com"
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None


def _body(method: str, path: str) -> Any:
    content = SPEC["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _sample(content["application/json"]["schema"])


# --- the matrix --------------------------------------------------------------------------------------


def _module_of(path: str, names: list[str]) -> str | None:
    owned = [n for n in names if n in OWNED and not (n == "order_id" and path.startswith("/api/purchase-orders"))]
    return OWNED[owned[0]] if owned else None


def _fill(world: World, path: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "order_id" and path.startswith("/api/purchase-orders"):
            return "1"
        return str(world.ids.get(name, 1))

    return re.sub(r"{(\w+)}", one, path)


def _reaches(role: str, module: str) -> bool:
    grant = BUILTIN_ROLES[role]["permissions"].get(module)
    return grant is not None and grant["scope"] == "all"


def _holds(role: str, need: tuple[str, str] | None) -> bool:
    if need is None:
        return True
    grant = BUILTIN_ROLES[role]["permissions"].get(need[0])
    return grant is not None and need[1] in grant["actions"]


def test_every_path_parameter_is_known() -> None:
    """A new kind of record in a path must be classed as owned or not, or the matrix cannot fill it."""
    names = {n for (_, path) in ROUTES for n in re.findall(r"{(\w+)}", path)}
    assert names <= set(OWNED) | UNOWNED, sorted(names - set(OWNED) - UNOWNED)


def test_roles_hold_no_orders_except_admin() -> None:
    """Sales orders come only from the shop's webhook, so setup has none: the matrix's order_id is
    a placeholder that only a refused permission makes safe. If a role gets orders, make one."""
    assert all("orders" not in BUILTIN_ROLES[r]["permissions"] for r in ROLES)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES), ids=[f"{m} {p}" for m, p in sorted(ROUTES)])
def test_route_refuses_records_of_others(world: World, method: str, path: str) -> None:
    route = ROUTES[(method, path)]
    names = re.findall(r"{(\w+)}", path)
    module = _module_of(path, names)
    need = _required(route)
    url = _fill(world, path)
    body = _body(method, path)
    checked = 0
    before = _snapshot(world)
    for role in ROLES:
        holds = _holds(role, need)
        if holds and (module is None or _reaches(role, module)):
            continue  # legitimately global for this role: nothing of others to protect
        api = world.clients[role.replace(" ", "-").lower()]
        answer = api.request(method, url, json=body) if body is not None else api.request(method, url)
        assert answer.status_code in (403, 404), f"{role}: {method} {url} -> {answer.status_code} {answer.text[:300]}"
        after = _snapshot(world)
        changed = sorted(t for t in before if before[t] != after.get(t))
        assert not changed, f"{role}: {method} {url} changed {changed}"
        checked += 1
    if checked == 0:
        pytest.skip("every built-in role reaches this route's records")


def test_snapshot_sees_a_change(world: World) -> None:
    """The table hash is not blind: an allowed change moves it."""
    before = _snapshot(world)
    admin = world.clients["admin"]
    lead = admin.get(f"/api/leads/{world.ids['lead_id']}").json()
    edited = admin.patch(f"/api/leads/{lead['id']}", json={"version": lead["version"], "company": "Changed"})
    assert edited.status_code == 200, edited.text
    assert before["leads"] != _snapshot(world)["leads"]
