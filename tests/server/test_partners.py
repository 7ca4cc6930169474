"""Partners and the partner portal (issue #25) through their doors: the office's /api/partners, the
invitation e-mail, the portal's HTML forms. Rules: a submission is answered at once (registered,
already registered, needs review) and tells nothing about another's lead; a partner sees only their
company's leads; CSRF on every form; cookie flags; lockout; staff tokens and portal cookies never
open each other's doors; protection lapses by the nightly job."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update

from crm_server.auth.tokens import digest
from crm_server.partners.models import LeadRegistration, PartnerSession, PartnerUser
from tests.support import LiveServer, Smtp, make_url

PARTNER_PASSWORD = "Tangerine-Harbour-42"


@pytest.fixture(scope="module")
def live(pg_cluster: Any, clones: Any) -> Iterator[LiveServer]:
    """One server with its job worker for the file (invitations and the nightly settling are jobs)."""
    name = clones.take()
    try:
        with LiveServer.run(make_url(pg_cluster.admin_url, name), worker=True) as server:
            yield server
    finally:
        clones.give_back(name)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Smtp]:
    with Smtp.run() as box:
        yield box


_people: dict[str, int] = {}


@pytest.fixture
async def boss(live: LiveServer, mailbox: Smtp) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client() as api:
        if not _people:
            _people["ada"] = await live.create_user("ada@example.com", role="Admin", full_name="Ada Admin")
            _people["sam"] = await live.create_user("sam@example.com", full_name="Sam Sales", team="North")
            await live.login(api, "ada@example.com")
            assert (await api.patch("/api/settings", json={"values": mailbox.settings()})).status_code == 200
        else:
            await live.login(api, "ada@example.com")
        yield api


def portal(live: LiveServer, address: str | None = None, **headers: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    return httpx.AsyncClient(base_url=live.base_url, timeout=20, headers=headers, transport=transport)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)
    return found


_count = [0]


async def partner_with_user(
    boss: httpx.AsyncClient, live: LiveServer, mailbox: Smtp, *, manager: str | None = "sam"
) -> tuple[int, str]:
    """A partner company and one user who accepted the invitation: (partner id, the user's e-mail)."""
    _count[0] += 1
    n = _count[0]
    body = {"name": f"Partner {n} Ltd", "managing_user_id": _people[manager] if manager else None}
    made = await boss.post("/api/partners", json=body)
    assert made.status_code == 201, made.text
    partner = made.json()
    email = f"pat{n}@partner{n}.example"
    user = await boss.post(f"/api/partners/{partner['id']}/users", json={"email": email, "full_name": f"Pat {n}"})
    assert user.status_code == 201, user.text
    sent = len(mailbox.messages)
    invited = await boss.post(f"/api/partners/{partner['id']}/users/{user.json()['id']}/invite")
    assert invited.status_code == 200, invited.text
    [message] = (await mailbox.wait_for(sent + 1, timeout=60))[sent:]
    assert message["To"] == email
    link = re.search(r"(/portal/accept\?token=\S+)", message.get_content())
    assert link, message.get_content()
    async with portal(live) as browser:
        form = await browser.get(link.group(1))
        assert form.status_code == 200, form.text
        fields = {
            "csrf": csrf_of(form.text),
            "token": link.group(1).split("token=")[1],
            "password": PARTNER_PASSWORD,
            "repeat": PARTNER_PASSWORD,
        }
        weak = await browser.post("/portal/accept", data={**fields, "password": "short", "repeat": "short"})
        assert weak.status_code == 422 and 'data-field="password"' in weak.text
        assert f"Welcome, Pat {n}" in weak.text and email in weak.text  # the form still greets its person
        done = await browser.post("/portal/accept", data=fields)
        assert done.status_code == 303 and done.headers["location"] == "/portal/signin?done=1", done.text
        again = await browser.post("/portal/accept", data=fields)
        assert again.status_code == 422 and "does not work" in again.text  # single use
    return partner["id"], email


async def sign_in(browser: httpx.AsyncClient, email: str, password: str = PARTNER_PASSWORD) -> httpx.Response:
    form = await browser.get("/portal/signin")
    return await browser.post("/portal/signin", data={"csrf": csrf_of(form.text), "email": email, "password": password})


async def submit(browser: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = await browser.get("/portal/leads/new")
    assert form.status_code == 200, form.text
    return await browser.post("/portal/leads/new", data={"csrf": csrf_of(form.text), **fields})


def outcome(page: httpx.Response) -> str:
    found = re.search(r'data-outcome="(\w+)"', page.text)
    assert found, page.text
    return found.group(1)


async def registration(live: LiveServer, **where: Any) -> LeadRegistration:
    async with live.session() as s:
        found = await s.scalar(select(LeadRegistration).filter_by(**where).order_by(LeadRegistration.id.desc()))
        assert found is not None
        return found


# --- the whole path ------------------------------------------------------------------------------


async def test_a_registered_lead_goes_to_the_managing_salesperson_and_the_partner_follows_it(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    partner_id, email = await partner_with_user(boss, live, mailbox)
    async with portal(live) as browser:
        signed = await sign_in(browser, email)
        assert signed.status_code == 303 and signed.headers["location"] == "/portal/dashboard", signed.text
        cookie = next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and v.startswith("crm_portal="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/portal"} <= flags and "secure" not in flags
        page = await submit(
            browser, company="Acme Widgets", contact="Wendy Wise", email="wendy@acme.example", phone="", interest="CRM"
        )
        assert outcome(page) == "registered"
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"

        reg = await registration(live, partner_id=partner_id)
        assert reg.state == "registered" and reg.lead_id is not None and reg.protected_until is not None
        lead = (await boss.get(f"/api/leads/{reg.lead_id}")).json()
        assert lead["owner_id"] == _people["sam"] and lead["source"] == "Partner"
        credit = (await boss.get(f"/api/leads/{reg.lead_id}/partner")).json()["registration"]
        assert credit["partner_id"] == partner_id and credit["state"] == "registered"

        async with live.client() as sam:  # the managing salesperson is told
            await live.login(sam, "sam@example.com")
            notes = (await sam.get("/api/notifications")).json()
            items = notes["items"] if isinstance(notes, dict) else notes
            assert any("Wendy Wise" in n["title"] for n in items), items

        mine = await browser.get(f"/portal/leads/{reg.id}")
        assert mine.status_code == 200 and re.search(r'id="stage"[^>]*>Received<', mine.text), mine.text
        statuses = (await boss.get("/api/pipelines")).json()[0]["statuses"]
        second = [s for s in statuses if s["kind"] == "open"][1]
        moved = await boss.post(
            f"/api/leads/{reg.lead_id}/move", json={"status_id": second["id"], "version": lead["version"]}
        )
        assert moved.status_code == 200, moved.text
        mine = await browser.get(f"/portal/leads/{reg.id}")
        assert re.search(r'id="stage"[^>]*>In progress<', mine.text), mine.text
        dashboard = await browser.get("/portal/dashboard")
        assert re.search(r'id="submitted">1<', dashboard.text), dashboard.text


async def test_duplicates_are_answered_without_telling_anything_about_the_other_lead(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    first_id, first = await partner_with_user(boss, live, mailbox)
    second_id, second = await partner_with_user(boss, live, mailbox, manager=None)
    async with portal(live) as a, portal(live) as b:
        await sign_in(a, first)
        await sign_in(b, second)
        page = await submit(a, company="Secret Deals SRL", contact="Vera Hidden", email="vera@secret.example")
        assert outcome(page) == "registered"
        taken = await submit(b, company="Other name", contact="V. H.", email="VERA@secret.example")
        assert outcome(taken) == "already_registered"
        first_name = (await boss.get(f"/api/partners/{first_id}")).json()["name"]
        for secret in ("Secret Deals", "Vera Hidden", "vera@secret", first_name, "Sam Sales"):
            assert secret not in taken.text, secret
        by_phone_office = await boss.post(
            "/api/leads", json={"person_name": "Olga Office", "company": "Office Co", "phone": "+40721000111"}
        )
        assert by_phone_office.status_code == 201, by_phone_office.text
        assert outcome(await submit(b, contact="Olga", phone="+40 721 000 111")) == "already_registered"
        # A similar name at the same company with another e-mail: someone has to look.
        weak = await submit(b, company="Secret Deals SRL", contact="Vera Hiden", email="v.h@elsewhere.example")
        assert outcome(weak) == "needs_review"
        # The office reviews it: accepting makes the lead and credits it to B.
        waiting = (await boss.get("/api/partners/registrations")).json()
        [review] = [w for w in waiting if w["contact"] == "Vera Hiden"]
        assert review["state"] == "needs_review" and review["email"] == "v.h@elsewhere.example"
        accepted = await boss.post(f"/api/partners/registrations/{review['id']}/accept")
        assert accepted.status_code == 200 and accepted.json()["state"] == "registered", accepted.text
        credit = (await boss.get(f"/api/leads/{accepted.json()['lead_id']}/partner")).json()["registration"]
        assert credit["partner_id"] == second_id and credit["protected_until"] is not None
        again = await boss.post(f"/api/partners/registrations/{review['id']}/accept")
        assert again.status_code == 409
        assert 'id="stage"' in (mine := await b.get(f"/portal/leads/{review['id']}")).text and "Received" in mine.text
        other = await submit(b, company="Secret Deals SRL", contact="Vera Hidenn", email="vh2@elsewhere.example")
        assert outcome(other) == "needs_review"
        [pending] = [w for w in (await boss.get("/api/partners/registrations")).json() if w["contact"] == "Vera Hidenn"]
        assert (await boss.post(f"/api/partners/registrations/{pending['id']}/reject")).status_code == 200
        assert "Not accepted" in (await b.get(f"/portal/leads/{pending['id']}")).text
        # Partner B never sees A's lead: not in the list, not by search, not by id.
        mine = await b.get("/portal/leads", params={"q": "Secret"})
        assert "Vera Hidden" not in mine.text
        theirs = await registration(live, contact="Vera Hidden")
        assert (await b.get(f"/portal/leads/{theirs.id}")).status_code == 404
        assert (await a.get(f"/portal/leads/{theirs.id}")).status_code == 200
        found = await a.get("/portal/leads", params={"q": "secret"})
        assert "Vera Hidden" in found.text


async def test_every_form_needs_its_csrf_token(live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live) as browser:
        await browser.get("/portal/signin")
        refused = await browser.post("/portal/signin", data={"email": email, "password": PARTNER_PASSWORD})
        assert refused.status_code == 403 and "crm_portal=" not in refused.headers.get("set-cookie", "")
        assert (await sign_in(browser, email)).status_code == 303
        before = await browser.get("/portal/dashboard")
        fields = {"contact": "Carl Csrf", "email": "carl@csrf.example"}
        assert (await browser.post("/portal/leads/new", data=fields)).status_code == 403
        assert (await browser.post("/portal/leads/new", data={**fields, "csrf": "forged"})).status_code == 403
        assert (await browser.post("/portal/signout", data={})).status_code == 403
        assert (await browser.get("/portal/dashboard")).text == before.text  # still signed in, nothing added
        async with live.session() as s:
            assert await s.scalar(select(LeadRegistration.id).where(LeadRegistration.contact == "Carl Csrf")) is None


async def test_staff_tokens_and_portal_cookies_never_open_each_others_doors(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    staff_token = boss.headers["Authorization"]
    async with portal(live, Authorization=staff_token) as visitor:
        answer = await visitor.get("/portal/dashboard")
        assert answer.status_code == 303 and answer.headers["location"] == "/portal/signin"
    async with portal(live) as browser:
        await sign_in(browser, email)
        assert (await browser.get("/portal/dashboard")).status_code == 200
        assert (await browser.get("/api/leads")).status_code == 401
        cookie = browser.cookies.get("crm_portal")
        assert cookie
        api = await browser.get("/api/leads", headers={"Authorization": f"Bearer {cookie}"})
        assert api.status_code == 401


async def test_sign_in_does_not_tell_accounts_apart_and_locks_after_many_failures(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live, address="127.0.0.9") as browser:
        wrong = await sign_in(browser, email, "Not-The-Password-1")
        unknown = await sign_in(browser, "nobody@nowhere.example", "Not-The-Password-1")
        assert wrong.status_code == unknown.status_code == 401
        assert re.search(r'id="error">([^<]+)<', wrong.text).group(1) == re.search(  # type: ignore[union-attr]
            r'id="error">([^<]+)<', unknown.text
        ).group(1)
    # Twenty failures from four addresses lock the account, as for staff.
    for n in (2, 3, 4, 5):
        async with portal(live, address=f"127.0.0.{n}") as browser:
            for _ in range(5):
                assert (await sign_in(browser, email, "Not-The-Password-1")).status_code in (401, 429)
    async with live.session() as s:
        user = await s.scalar(select(PartnerUser).where(PartnerUser.email == email))
        assert user is not None and user.locked_until is not None
    async with portal(live, address="127.0.0.7") as browser:
        locked = await sign_in(browser, email)
        assert locked.status_code == 401 and "Wrong e-mail or password." in locked.text


async def test_two_step_sign_in(live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live) as browser:
        await sign_in(browser, email)
        account = await browser.get("/portal/account")
        secret = re.search(r"<code>([A-Z2-7]+)</code>", account.text)
        assert secret, account.text
        totp = pyotp.TOTP(secret.group(1))
        on = await browser.post("/portal/account/totp", data={"csrf": csrf_of(account.text), "code": totp.now()})
        assert on.status_code == 303
        await browser.post("/portal/signout", data={"csrf": csrf_of(account.text)})
        assert (await browser.get("/portal/dashboard")).status_code == 303
        step = await sign_in(browser, email)
        assert step.headers["location"] == "/portal/signin/code"
        waiting = browser.cookies.get("crm_portal")
        again = await sign_in(browser, email)  # signing in again ends the session the browser had
        assert again.headers["location"] == "/portal/signin/code" and browser.cookies.get("crm_portal") != waiting
        async with live.session() as s:
            row = await s.scalar(select(PartnerSession).where(PartnerSession.token_hash == digest(waiting or "")))
            assert row is not None and row.end_reason == "signed_in_again"
        assert (await browser.get("/portal/dashboard")).headers["location"] == "/portal/signin/code"
        form = await browser.get("/portal/signin/code")
        bad = await browser.post("/portal/signin/code", data={"csrf": csrf_of(form.text), "code": "000000"})
        assert bad.status_code == 401
        async with live.session() as s:  # the code of the next time step: this one was used to turn it on
            await s.execute(update(PartnerUser).where(PartnerUser.email == email).values(totp_last_step=0))
        form = await browser.get("/portal/signin/code")
        good = await browser.post("/portal/signin/code", data={"csrf": csrf_of(form.text), "code": totp.now()})
        assert good.status_code == 303 and good.headers["location"] == "/portal/dashboard", good.text
        assert (await browser.get("/portal/dashboard")).status_code == 200


async def test_tls_behind_the_proxy_makes_the_cookie_secure(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live, **{"X-Forwarded-Proto": "https"}) as browser:
        form = await browser.get("/portal/signin")
        pre = form.headers["set-cookie"]
        assert "secure" in {part.strip().lower() for part in pre.split(";")}
        value = pre.split(";")[0]  # a Secure cookie is not sent back over plain http: the proxy did TLS
        fields = {"csrf": csrf_of(form.text), "email": email, "password": PARTNER_PASSWORD}
        signed = await browser.post("/portal/signin", data=fields, headers={"Cookie": value})
        assert signed.status_code == 303, signed.text
        cookie = next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and v.startswith("crm_portal="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_protection_lapses_without_progress_by_the_nightly_job(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live) as browser:
        await sign_in(browser, email)
        assert outcome(await submit(browser, contact="Lars Lapse", email="lars@lapse.example")) == "registered"
        assert outcome(await submit(browser, contact="Wim Winner", email="wim@win.example")) == "registered"
        lapsing = await registration(live, contact="Lars Lapse")
        winning = await registration(live, contact="Wim Winner")
        async with live.session() as s:
            await s.execute(
                update(LeadRegistration)
                .where(LeadRegistration.id.in_([lapsing.id, winning.id]))
                .values(protected_until=LeadRegistration.created_at - timedelta(days=1))
            )
        statuses = (await boss.get("/api/pipelines")).json()[0]["statuses"]
        won = next(s for s in statuses if s["kind"] == "won")
        lead = (await boss.get(f"/api/leads/{winning.lead_id}")).json()
        moved = await boss.post(
            f"/api/leads/{winning.lead_id}/move", json={"status_id": won["id"], "version": lead["version"]}
        )
        assert moved.status_code == 200, moved.text
        ran = await boss.post("/api/admin/jobs/partners.settle/run")
        assert ran.status_code == 202, ran.text

        async def settled() -> bool:
            return (await registration(live, id=lapsing.id)).state == "lapsed"

        await until(settled, "the registration lapsed")
        assert (await registration(live, id=winning.id)).state == "won"
        credit = (await boss.get(f"/api/leads/{lapsing.lead_id}/partner")).json()["registration"]
        assert credit["state"] == "lapsed"
        page = await browser.get("/portal/leads")
        assert "Protection ended" in page.text and "Won" in page.text


async def test_hostile_input_gets_a_4xx_naming_the_field(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    async with portal(live) as browser:
        await sign_in(browser, email)
        nul = await submit(browser, contact="Nul\x00Person", email="nul@x.example")
        assert nul.status_code == 422 and 'data-field="contact"' in nul.text
        noway = await submit(browser, contact="No Way")
        assert noway.status_code == 422 and 'data-field="email"' in noway.text
        long = await submit(browser, contact="L", email="l@x.example", company="x" * 201)
        assert long.status_code == 422 and 'data-field="company"' in long.text
        odd = await browser.post(
            "/portal/leads/new",
            content=b"contact=\xff\xfe",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert odd.status_code == 422 and 'data-field="form"' in odd.text
        many = await browser.post("/portal/leads/new", data={f"f{i}": "x" for i in range(100)})
        assert many.status_code == 422
        as_json = await browser.post("/portal/signin", json={"email": "a", "password": "b"})
        assert as_json.status_code == 403  # no CSRF value in it
        assert (await browser.get(f"/portal/leads/{2**64}")).status_code == 422
        assert (await browser.get("/portal/leads", params={"page": "-1"})).status_code == 422
    bad = await boss.post("/api/partners", json={"name": "Bad Manager", "managing_user_id": 2**62})
    assert bad.status_code == 422 and bad.json()["field"] == "managing_user_id"
    same = await boss.post("/api/partners", json={"name": "PARTNER 1 LTD"})
    assert same.status_code == 422 and same.json()["field"] == "name"
    big = await boss.post("/api/partners", json={"name": "Big", "managing_user_id": 2**64})
    assert big.status_code == 422


async def test_portal_sessions_end_after_idle_time_and_at_their_absolute_limit(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    for column, shift in ((PartnerSession.last_seen_at, timedelta(minutes=31)), (PartnerSession.expires_at, None)):
        async with portal(live) as browser:
            await sign_in(browser, email)
            assert (await browser.get("/portal/dashboard")).status_code == 200
            async with live.session() as s:
                user_id = await s.scalar(select(PartnerUser.id).where(PartnerUser.email == email))
                value = func.now() - shift if shift else func.now()
                await s.execute(
                    update(PartnerSession)
                    .where(PartnerSession.partner_user_id == user_id, PartnerSession.ended_at.is_(None))
                    .values({column: value})
                )
            ended = await browser.get("/portal/dashboard")
            assert ended.status_code == 303 and ended.headers["location"] == "/portal/signin", column
            async with live.session() as s:
                reasons = set(
                    await s.scalars(select(PartnerSession.end_reason).where(PartnerSession.partner_user_id == user_id))
                )
            assert ("idle" if shift else "expired") in reasons


async def test_deactivating_a_partner_or_a_person_signs_them_out_of_the_portal(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    partner_id, email = await partner_with_user(boss, live, mailbox)
    partner = (await boss.get(f"/api/partners/{partner_id}")).json()
    body = {k: partner[k] for k in ("name", "managing_user_id", "email", "phone", "notes", "share_values")}
    async with portal(live) as browser:
        await sign_in(browser, email)
        assert (await browser.get("/portal/dashboard")).status_code == 200
        assert (await boss.put(f"/api/partners/{partner_id}", json={**body, "active": False})).status_code == 200
        assert (await browser.get("/portal/dashboard")).status_code == 303
        refused = await sign_in(browser, email)
        assert refused.status_code == 401 and "not active" in refused.text
        assert (await boss.put(f"/api/partners/{partner_id}", json={**body, "active": True})).status_code == 200
        assert (await sign_in(browser, email)).status_code == 303
        [person] = (await boss.get(f"/api/partners/{partner_id}/users")).json()
        change = {"email": person["email"], "full_name": person["full_name"], "active": False}
        assert (await boss.put(f"/api/partners/{partner_id}/users/{person['id']}", json=change)).status_code == 200
        assert (await browser.get("/portal/dashboard")).status_code == 303
        invite = await boss.post(f"/api/partners/{partner_id}/users/{person['id']}/invite")
        assert invite.status_code == 409  # an inactive person is not invited


async def test_a_partner_cannot_probe_for_existing_leads_faster_than_the_hourly_limit(
    live: LiveServer, boss: httpx.AsyncClient, mailbox: Smtp
) -> None:
    _, email = await partner_with_user(boss, live, mailbox)
    assert (await boss.patch("/api/settings", json={"values": {"partners.submissions_per_hour": 2}})).status_code == 200
    try:
        async with portal(live) as browser:
            await sign_in(browser, email)
            for _ in range(2):  # "already registered" answers count too
                assert outcome(await submit(browser, contact="Probe", email="wendy@acme.example")) in (
                    "already_registered",
                    "registered",
                )
            slowed = await submit(browser, contact="Probe", email="someone@acme.example")
            assert slowed.status_code == 429 and "in the last hour" in slowed.text
    finally:
        await boss.patch("/api/settings", json={"values": {"partners.submissions_per_hour": 30}})
