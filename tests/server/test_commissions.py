"""Commissions over HTTP (issue #25): policies, the daily job (run through the admin's run-now,
the waiting days passed by dating payments in the past), the arithmetic against worked examples
written out below, reversals by a refund and by a credit note, who may approve and mark paid,
hostile input, and the payout report. One server (with its job worker) for the whole file.

Worked examples. "M" is last month; VAT is 19%, so an invoice of N net is N x 1.19 gross, and a
percent commission is on the net part of each payment.
- Policy "Staff 5/7" (percent, all staff, waiting 10 days): 5% from 0, 7% from 10,000 of net paid
  in the month (marginal tiers).
  Sam, invoice A: 8,000.00 net / 9,520.00 gross, paid in full on M-02 -> base 8,000.00 ->
  8,000 x 5% = 400.00.
  Sam, invoice B: 4,000.00 net / 4,760.00 gross, paid in two halves (partial payments):
  2,380.00 on M-03 -> base 2,000.00, month 8,000 -> 10,000, all at 5% = 100.00;
  2,380.00 on M-04 -> base 2,000.00, month 10,000 -> 12,000, all at 7% = 140.00.
  Olga, invoice C: 1,000.00 net / 1,190.00 gross paid 3 days ago: not yet (10 waiting days);
  dated 11 days back it earns 1,000 x 5% = 50.00.
- Policy "Deals" (fixed per won deal, team North and partner Pact): 100.00 for the month's 1st
  deal, 150.00 from its 2nd on. A is settled on M-02: Sam's 1st deal -> 100.00, and Pact (the lead
  is credited to it) its 1st -> 100.00. B is settled by its second half on M-04: Sam's 2nd deal ->
  150.00 (its first half earned nothing).
- Refund: 2,856.00 (30%) of A's payment given back -> A keeps 70%: the 400.00 (paid already, left
  as it was) gets a reversal of -120.00, Sam's and Pact's 100.00 each -30.00.
- Credit note: a hand-made invoice E with a commission of 50.00 added by hand is cancelled (a
  credit note) -> reversal -50.00."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from crm_server.admin.models import AuditEntry
from crm_server.auth import passwords
from tests.support import ADMIN_EMAIL, LiveServer, Smtp, make_url

TODAY = datetime.now(UTC).date()
PORTAL_PASSWORD = "Tangerine-Harbour-42"
M = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1)  # first day of last month


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


async def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


@asynccontextmanager
async def signed_in(live: LiveServer, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if email == "admin":
            async with live.session() as s:
                there = await s.scalar(text("SELECT 1 FROM users WHERE email = :e"), {"e": ADMIN_EMAIL})
            await (live.login(api, ADMIN_EMAIL) if there else live.login_admin(api))
        else:
            await live.login(api, email)
        yield api


async def deal(api: httpx.AsyncClient, owner: int, net: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """lead (owned by `owner`) -> won, converted to a client -> accepted proposal -> issued invoice."""
    pipelines = await ok(await api.get("/api/pipelines"))
    statuses = {s["name"]: s["id"] for s in next(p for p in pipelines if p["is_default"])["statuses"]}
    lead = await ok(
        await api.post("/api/leads", json={"person_name": "Ana", "company": f"Co {net}", "owner_id": owner}), 201
    )
    won = await ok(
        await api.post(
            f"/api/leads/{lead['id']}/move",
            json={"version": lead["version"], "status_id": statuses["Won"], "convert": True},
        )
    )
    rate = next(r["id"] for r in await ok(await api.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    line = {"description": "Work", "quantity": "1", "unit_price": net, "tax_rate_id": rate}
    proposal = await ok(await api.post("/api/proposals", json={"client_id": won["client"]["id"], "lines": [line]}), 201)
    for status in ("sent", "accepted"):
        proposal = await ok(
            await api.post(
                f"/api/proposals/{proposal['id']}/status", json={"version": proposal["version"], "status": status}
            )
        )
    draft = await ok(await api.post(f"/api/proposals/{proposal['id']}/convert"), 201)
    invoice = await ok(await api.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
    return won["lead"], invoice


async def pay(api: httpx.AsyncClient, invoice: dict[str, Any], amount: str, paid_on: date) -> dict[str, Any]:
    body = {"amount": amount, "paid_on": paid_on.isoformat()}
    return await ok(await api.post(f"/api/invoices/{invoice['id']}/payments", json=body), 201)


JOBS = text(
    "SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')), count(*) FILTER (WHERE status = 'failed') "
    "FROM procrastinate_jobs WHERE task_name = :task"
)


async def run_job(live: LiveServer, api: httpx.AsyncClient, task: str = "commissions.calculate") -> None:
    """Run a job now (the admin's run-now) and wait for the worker to finish it."""
    named = {"task": f"crm:{task}"}
    async with live.session() as s:
        before = (await s.execute(JOBS, named)).one()[0]
    await ok(await api.post(f"/api/admin/jobs/{task}/run"), 202)
    for _ in range(600):
        async with live.session() as s:
            done, failed = (await s.execute(JOBS, named)).one()
        if done > before:
            assert failed == 0, f"the {task} job failed"
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {task} job did not finish")


async def rows(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    page = await ok(await api.get("/api/commissions", params={"sort": "created_at", "limit": 500, **params}))
    return page["items"]


def amounts(items: list[dict[str, Any]], **match: Any) -> list[str]:
    return [i["amount"] for i in items if all(i[k] == v for k, v in match.items())]


async def test_worked_examples_waiting_days_refund_and_credit_note(live: LiveServer) -> None:
    sam = await live.create_user("sam@example.com", role="Salesperson", full_name="Sam Seller", team="North")
    olga = await live.create_user("olga@example.com", role="Salesperson", full_name="Olga Other", team="South")
    async with signed_in(live, "admin") as admin:
        teams = {t["name"]: t["id"] for t in await ok(await admin.get("/api/teams"))}
        async with live.session() as s:
            pact = await s.scalar(
                text("INSERT INTO partners (name, managing_user_id) VALUES ('Pact', :sam) RETURNING id"), {"sam": sam}
            )
        staff = await ok(
            await admin.post(
                "/api/commissions/policies",
                json={
                    "name": "Staff 5/7",
                    "basis": "percent",
                    "wait_days": 10,
                    "starts_on": M.isoformat(),
                    "all_staff": True,
                    "tiers": [{"threshold": "0", "rate": "5"}, {"threshold": "10000", "rate": "7"}],
                },
            ),
            201,
        )
        assert staff["currency"] == "EUR" and [t["rate"] for t in staff["tiers"]] == ["5.0000", "7.0000"]
        await ok(
            await admin.post(
                "/api/commissions/policies",
                json={
                    "name": "Deals",
                    "basis": "fixed",
                    "starts_on": M.isoformat(),
                    "tiers": [{"threshold": "1", "rate": "100"}, {"threshold": "2", "rate": "150"}],
                    "members": [{"team_id": teams["North"]}, {"partner_id": pact}],
                },
            ),
            201,
        )
        lead_a, a = await deal(admin, sam, "8000.00")
        async with live.session() as s:  # P1's registration: the lead is credited to the partner
            await s.execute(
                text("INSERT INTO lead_registrations (partner_id, lead_id, state) VALUES (:p, :l, 'registered')"),
                {"p": pact, "l": lead_a["id"]},
            )
        _, b = await deal(admin, sam, "4000.00")
        _, c = await deal(admin, olga, "1000.00")
        payment_a = await pay(admin, a, "9520.00", M.replace(day=2))
        await pay(admin, b, "2380.00", M.replace(day=3))
        await pay(admin, b, "2380.00", M.replace(day=4))
        payment_c = await pay(admin, c, "1190.00", TODAY - timedelta(days=3))

        await run_job(live, admin)
        made = await rows(admin)
        assert amounts(made, user_id=sam, policy_name="Staff 5/7") == ["400.00", "100.00", "140.00"]
        assert [i["base_amount"] for i in made if i["policy_name"] == "Staff 5/7"] == ["8000.00", "2000.00", "2000.00"]
        assert amounts(made, user_id=sam, policy_name="Deals") == ["100.00", "150.00"]
        assert amounts(made, partner_id=pact) == ["100.00"]
        assert amounts(made, user_id=olga) == []  # 3 days of 10 waited
        assert {i["month"] for i in made} == {M.isoformat()} and {i["status"] for i in made} == {"pending"}

        await run_job(live, admin)  # idempotent
        assert len(await rows(admin)) == len(made)
        twin = next(i for i in made if i["amount"] == "400.00")
        with pytest.raises(IntegrityError):  # and the database refuses a second one outright
            async with live.session() as s:
                await s.execute(
                    text(
                        "INSERT INTO commissions (kind, policy_id, user_id, invoice_id, payment_id, month, "
                        "base_amount, amount, currency) SELECT kind, policy_id, user_id, invoice_id, payment_id, "
                        "month, base_amount, amount, currency FROM commissions WHERE id = :i"
                    ),
                    {"i": twin["id"]},
                )

        async with live.session() as s:  # the waiting days pass: the payment is dated 11 days back
            await s.execute(
                text("UPDATE payments SET paid_on = :d WHERE id = :i"),
                {"d": TODAY - timedelta(days=11), "i": payment_c["id"]},
            )
        await run_job(live, admin)
        assert amounts(await rows(admin), user_id=olga) == ["50.00"]

        # A's 400.00 is approved and paid; then 30% of A's payment is refunded.
        first = next(i for i in made if i["amount"] == "400.00")
        await ok(await admin.post(f"/api/commissions/{first['id']}/approve"))
        assert (await ok(await admin.post(f"/api/commissions/{first['id']}/pay")))["status"] == "paid"
        refund = {"amount": "2856.00", "reason": "Part returned"}
        await ok(await admin.post(f"/api/invoices/{a['id']}/payments/{payment_a['id']}/refunds", json=refund), 201)
        await run_job(live, admin)
        await run_job(live, admin)  # twice: still one reversal each
        after = await rows(admin)
        reversals = [i for i in after if i["kind"] == "reversal"]
        assert sorted((i["reverses_id"], i["amount"]) for i in reversals) == sorted(
            [
                (first["id"], "-120.00"),
                *[(i["id"], "-30.00") for i in made if i["invoice_id"] == a["id"] and i["policy_name"] == "Deals"],
            ]
        )
        assert {i["month"] for i in reversals} == {TODAY.replace(day=1).isoformat()}
        kept = next(i for i in after if i["id"] == first["id"])
        assert (kept["amount"], kept["status"]) == ("400.00", "paid")  # a paid row is never edited

        # By hand: refused for an invoice made from a proposal; allowed for a hand-made one,
        # reversed when that invoice is cancelled by a credit note.
        note = {"user_id": sam, "amount": "50.00", "note": "Agreed by phone"}
        calculated = await admin.post("/api/commissions", json={**note, "invoice_id": a["id"]})
        assert calculated.status_code == 409 and calculated.json()["code"] == "calculated"
        client = await ok(await admin.post("/api/clients", json={"name": "Walk-in"}), 201)
        rate = next(r["id"] for r in await ok(await admin.get("/api/tax-rates")) if r["name"] == "Standard 19%")
        line = {"description": "Work", "quantity": "1", "unit_price": "500.00", "tax_rate_id": rate}
        draft = await ok(await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]}), 201)
        e = await ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
        by_hand = await ok(await admin.post("/api/commissions", json={**note, "invoice_id": e["id"]}), 201)
        assert (by_hand["kind"], by_hand["amount"], by_hand["beneficiary"]) == ("manual", "50.00", "Sam Seller")
        await ok(await admin.post(f"/api/invoices/{e['id']}/cancel", json={"version": e["version"]}))
        await run_job(live, admin)
        assert amounts(await rows(admin), reverses_id=by_hand["id"]) == ["-50.00"]

        # The payout report: Sam in M: pending 100+140+100+150 = 490.00, paid 400.00; this month
        # the reversals -120 -30 and the by-hand +50 -50: -150.00 pending.
        report = await ok(
            await admin.get(
                "/api/commissions/payouts", params={"month_from": M.isoformat(), "month_to": TODAY.isoformat()}
            )
        )
        mine = {(r["month"], r["name"]): (r["pending"], r["approved"], r["paid"]) for r in report["rows"]}
        assert mine[(M.isoformat(), "Sam Seller")] == ("490.00", "0.00", "400.00")
        assert mine[(TODAY.replace(day=1).isoformat(), "Sam Seller")] == ("-150.00", "0.00", "0.00")
        assert mine[(M.isoformat(), "Pact")] == ("100.00", "0.00", "0.00")

    async with live.session() as s:
        actions = (
            await s.scalars(
                select(AuditEntry.action).where(AuditEntry.entity == "commission", AuditEntry.entity_id == first["id"])
            )
        ).all()
    assert sorted(actions) == ["approved", "created", "paid"]


async def test_who_may_approve_and_mark_paid_and_hostile_input(live: LiveServer) -> None:
    sal = await live.create_user("sal@example.com", role="Salesperson", full_name="Sal", team="East")
    mia = await live.create_user("mia@example.com", role="Manager", full_name="Mia Manager", team="East")
    await live.create_user("fin@example.com", role="Accountant", full_name="Fin")
    await live.create_user("wes@example.com", role="Manager", full_name="Wes", team="West")
    async with (
        signed_in(live, "admin") as admin,
        signed_in(live, "sal@example.com") as sal_api,
        signed_in(live, "mia@example.com") as mia_api,
        signed_in(live, "fin@example.com") as fin_api,
        signed_in(live, "wes@example.com") as wes_api,
    ):
        client = await ok(await admin.post("/api/clients", json={"name": "Hand Co"}), 201)
        rate = next(r["id"] for r in await ok(await admin.get("/api/tax-rates")) if r["name"] == "Standard 19%")
        line = {"description": "Work", "quantity": "1", "unit_price": "100.00", "tax_rate_id": rate}
        draft = await ok(await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]}), 201)
        invoice = await ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
        hand = {"invoice_id": invoice["id"], "amount": "10.00", "note": "Deal by hand"}
        # Finance adds by hand; a salesperson may not.
        assert (await sal_api.post("/api/commissions", json={**hand, "user_id": sal})).status_code == 403
        sals = await ok(await fin_api.post("/api/commissions", json={**hand, "user_id": sal}), 201)
        mias = await ok(await fin_api.post("/api/commissions", json={**hand, "user_id": mia}), 201)

        # Sal sees their own only; a manager of another team sees neither.
        assert [i["id"] for i in await rows(sal_api)] == [sals["id"]]
        assert await rows(wes_api) == []
        assert (await wes_api.post(f"/api/commissions/{sals['id']}/approve")).status_code == 404
        # Approve: managers over their team, never their own; not salespeople, not finance.
        assert (await sal_api.post(f"/api/commissions/{sals['id']}/approve")).status_code == 403
        assert (await fin_api.post(f"/api/commissions/{sals['id']}/approve")).status_code == 403
        assert (await mia_api.post(f"/api/commissions/{mias['id']}/approve")).status_code == 403
        # Pay: finance, only once approved; a manager may not.
        early = await fin_api.post(f"/api/commissions/{sals['id']}/pay")
        assert early.status_code == 409 and early.json()["code"] == "not_approved"
        assert (await ok(await mia_api.post(f"/api/commissions/{sals['id']}/approve")))["status"] == "approved"
        again = await mia_api.post(f"/api/commissions/{sals['id']}/approve")
        assert again.status_code == 409 and again.json()["code"] == "not_pending"
        assert (await mia_api.post(f"/api/commissions/{sals['id']}/pay")).status_code == 403
        assert (await ok(await fin_api.post(f"/api/commissions/{sals['id']}/pay")))["status"] == "paid"

        # Policies are the admins'.
        policy = {"name": "P", "basis": "percent", "tiers": [{"threshold": "0", "rate": "5"}]}
        assert (await mia_api.post("/api/commissions/policies", json=policy)).status_code == 403
        made = await ok(await admin.post("/api/commissions/policies", json=policy), 201)
        twin = await admin.post("/api/commissions/policies", json={**policy, "name": " p "})
        assert twin.status_code == 409 and twin.json()["field"] == "name"
        stale = await admin.put(f"/api/commissions/policies/{made['id']}", json={**policy, "version": 99})
        assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
        changed = await ok(
            await admin.put(f"/api/commissions/policies/{made['id']}", json={**policy, "wait_days": 30, "version": 1})
        )
        assert (changed["wait_days"], changed["version"]) == (30, 2)
        # The audit log names them: the policy, and whose commission on which invoice.
        audit = await ok(await admin.get("/api/audit", params={"limit": 100}))
        labels = {(e["entity"], e["entity_id"]): e["label"] for e in audit["items"]}
        assert labels[("commission_policy", made["id"])] == "P"
        assert labels[("commission", sals["id"])] == f"Sal · {invoice['number']}"

        # Hostile input: a 4xx naming the field, never a 500.
        hostile: list[tuple[str, str, Any, str]] = [
            ("post", "/api/commissions/policies", {**policy, "name": "A\x00B"}, "name"),
            (
                "post",
                "/api/commissions/policies",
                {**policy, "tiers": [{"threshold": "0", "rate": "101"}]},
                "tiers.0.rate",
            ),
            (
                "post",
                "/api/commissions/policies",
                {**policy, "tiers": [{"threshold": "1e20", "rate": "5"}]},
                "tiers.0.threshold",
            ),
            (
                "post",
                "/api/commissions/policies",
                {**policy, "tiers": [{"threshold": "0", "rate": "5"}, {"threshold": "0.00", "rate": "6"}]},
                "tiers",
            ),
            ("post", "/api/commissions/policies", {**policy, "wait_days": 2**70}, "wait_days"),
            ("post", "/api/commissions/policies", {**policy, "tiers": []}, "tiers"),
            ("post", "/api/commissions/policies", {**policy, "members": [{"user_id": 2**64}]}, "members.0.user_id"),
            ("post", "/api/commissions/policies", {**policy, "members": [{"user_id": 999999}]}, "members.0.user_id"),
            ("post", "/api/commissions/policies", {**policy, "members": [{}]}, "members.0"),
            ("post", "/api/commissions/policies", {**policy, "basis": None}, "basis"),
            ("post", "/api/commissions/policies", {**policy, "starts_on": "0001-01-01"}, "starts_on"),
            ("post", "/api/commissions/policies", {**policy, "starts_on": "2030-02-30"}, "starts_on"),
            ("post", "/api/commissions", {**hand, "user_id": sal, "amount": "0.001"}, "amount"),
            ("post", "/api/commissions", {**hand, "user_id": sal, "amount": "-5"}, "amount"),
            ("post", "/api/commissions", {**hand, "user_id": sal, "partner_id": 1}, "user_id"),
            ("post", "/api/commissions", {**hand, "user_id": sal, "note": "  "}, "note"),
            ("post", "/api/commissions", {**hand, "user_id": sal, "invoice_id": 999999}, "invoice_id"),
            ("get", "/api/commissions?month_from=2030-02-01&month_to=2030-01-01", None, "month_from"),
            ("get", "/api/commissions?limit=100000", None, "limit"),
            ("get", "/api/commissions/payouts?month_from=2030-01-01&month_to=x", None, "month_to"),
        ]
        for method, url, body, field in hostile:
            answer = (
                await admin.request(method, url, json=body) if body is not None else await admin.request(method, url)
            )
            assert 400 <= answer.status_code < 500, (url, body, answer.text)
            assert answer.json().get("field") == field, (url, body, answer.text)
        huge = await admin.post(f"/api/commissions/{2**64}/approve")
        assert 400 <= huge.status_code < 500


async def test_the_partner_sees_their_commission_on_the_portal_dashboard(live: LiveServer) -> None:
    """Two partners; Vale earns 75.00 (approved, paid) and 25.00 (pending) by hand; its portal
    dashboard shows earned 100.00, pending 25.00, paid 75.00; the other partner sees none of it."""
    async with live.session() as s:
        made = [
            await s.scalar(text("INSERT INTO partners (name) VALUES (:n) RETURNING id"), {"n": name})
            for name in ("Vale", "Other")
        ]
        vale, other = made
        digest = passwords.hash_password(PORTAL_PASSWORD)
        for partner, email in ((vale, "pat@vale.example"), (other, "oz@other.example")):
            await s.execute(
                text(
                    "INSERT INTO partner_users (partner_id, email, full_name, password_hash) VALUES (:p, :e, 'P', :h)"
                ),
                {"p": partner, "e": email, "h": digest},
            )
    async with signed_in(live, "admin") as admin:
        client = await ok(await admin.post("/api/clients", json={"name": "Vale deal"}), 201)
        rate = next(r["id"] for r in await ok(await admin.get("/api/tax-rates")) if r["name"] == "Standard 19%")
        line = {"description": "Work", "quantity": "1", "unit_price": "1000.00", "tax_rate_id": rate}
        draft = await ok(await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]}), 201)
        invoice = await ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
        hand = {"invoice_id": invoice["id"], "partner_id": vale, "note": "Referral"}
        paid = await ok(await admin.post("/api/commissions", json={**hand, "amount": "75.00"}), 201)
        await ok(await admin.post("/api/commissions", json={**hand, "amount": "25.00"}), 201)
        await ok(await admin.post(f"/api/commissions/{paid['id']}/approve"))
        await ok(await admin.post(f"/api/commissions/{paid['id']}/pay"))

    def figure(html: str, name: str) -> str:
        found = re.search(rf'id="commission-{name}">([^<]*)<', html)
        assert found, html
        return found.group(1).strip()

    for email, expected in (("pat@vale.example", ("100.00 EUR", "25.00 EUR", "75.00 EUR")), ("oz@other.example", None)):
        async with httpx.AsyncClient(base_url=live.base_url, timeout=20) as browser:
            form = await browser.get("/portal/signin")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf, form.text
            signed = await browser.post(
                "/portal/signin", data={"csrf": csrf.group(1), "email": email, "password": PORTAL_PASSWORD}
            )
            assert signed.status_code == 303, signed.text
            page = await browser.get("/portal/dashboard")
            assert page.status_code == 200, page.text
            if expected is None:
                assert "No commission yet" in page.text and "Referral" not in page.text
                assert figure(page.text, "earned") == "0.00"
            else:
                assert (
                    figure(page.text, "earned"),
                    figure(page.text, "pending"),
                    figure(page.text, "paid"),
                ) == expected


async def test_partner_reports_are_emailed_to_the_partners_users(live: LiveServer, smtp: Smtp) -> None:
    """Off by default: nothing is sent. Weekly: an admin's run-now sends each partner's users who set
    their password their company's figures (Rho: 40.00 earned, pending), with the months attached;
    a user who never accepted the invitation gets nothing."""
    async with live.session() as s:
        rho = await s.scalar(text("INSERT INTO partners (name) VALUES ('Rho') RETURNING id"))
        await s.execute(
            text(
                "INSERT INTO partner_users (partner_id, email, full_name, password_hash) VALUES "
                "(:p, 'ann@rho.example', 'Ann', :h), (:p, 'new@rho.example', 'New', NULL)"
            ),
            {"p": rho, "h": passwords.hash_password(PORTAL_PASSWORD)},
        )
    async with signed_in(live, "admin") as admin:
        await ok(await admin.patch("/api/settings", json={"values": smtp.settings()}))
        client = await ok(await admin.post("/api/clients", json={"name": "Rho deal"}), 201)
        rate = next(r["id"] for r in await ok(await admin.get("/api/tax-rates")) if r["name"] == "Standard 19%")
        line = {"description": "Work", "quantity": "1", "unit_price": "400.00", "tax_rate_id": rate}
        draft = await ok(await admin.post("/api/invoices", json={"client_id": client["id"], "lines": [line]}), 201)
        invoice = await ok(await admin.post(f"/api/invoices/{draft['id']}/issue", json={"version": draft["version"]}))
        hand = {"invoice_id": invoice["id"], "partner_id": rho, "amount": "40.00", "note": "Referral"}
        await ok(await admin.post("/api/commissions", json=hand), 201)

        await run_job(live, admin, "commissions.partner_reports")
        assert smtp.messages == []  # the setting is off
        wrong = await admin.patch("/api/settings", json={"values": {"commissions.partner_report": "daily"}})
        assert wrong.status_code == 422 and wrong.json()["field"] == "commissions.partner_report"
        weekly = {"commissions.partner_report": "weekly"}
        await ok(await admin.patch("/api/settings", json={"values": weekly}))
        await run_job(live, admin, "commissions.partner_reports")
    # The job has finished, so its mails are in (other partners of this file's tests get theirs).
    by_to = {m["To"]: m for m in smtp.messages}
    assert "ann@rho.example" in by_to and "new@rho.example" not in by_to, list(by_to)
    message = by_to["ann@rho.example"]
    assert message["Subject"].startswith("Your commission report")
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
    assert "Earned: 40.00 EUR" in text_part and "Pending: 40.00 EUR" in text_part and "Paid: 0.00 EUR" in text_part
    assert [p.get_filename() for p in message.iter_attachments()] == [f"commission-{TODAY.isoformat()}.xlsx"]
