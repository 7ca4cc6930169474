"""Website forms over real HTTP: an admin defines a form and gets its embed code; visitors post to
/webhooks/forms/<key> form-encoded or as JSON; the inbox's job turns a post into a lead with the
mapped fields and a note. Refusals: per-field errors (nothing stored as work), honeypot, the
per-address limit, CORS preflight and a forbidden origin, inactive and unknown keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from crm_server.activities.models import Note
from crm_server.admin.models import AuditEntry
from crm_server.integrations import inbox
from crm_server.integrations.models import InboxEvent
from crm_server.leads.models import Lead
from tests.support import LiveServer

SITE = "https://www.example.com"
FIELDS: list[dict[str, Any]] = [
    {"name": "name", "label": "Your name", "type": "text", "required": True, "maps_to": "person_name"},
    {"name": "email", "label": "Email", "type": "email", "required": True, "maps_to": "email"},
    {"name": "phone", "label": "Phone", "type": "phone", "maps_to": "phone"},
    {"name": "company", "label": "Company", "maps_to": "company"},
    {"name": "budget", "label": "Budget", "maps_to": "value"},
    {"name": "plan", "label": "Plan", "type": "select", "options": ["Basic", "Pro"], "maps_to": "product_interest"},
    {"name": "heard", "label": "How did you hear of us", "maps_to": "none"},
    {"name": "message", "label": "Message", "type": "textarea", "required": True, "maps_to": "note"},
]


async def make_form(admin: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body = {"name": "Contact us", "fields": FIELDS, "allowed_origins": [SITE], **changes}
    response = await admin.post("/api/web-forms", json=body)
    assert response.status_code == 201, response.text
    form: dict[str, Any] = response.json()
    return form


async def events(server: LiveServer) -> list[InboxEvent]:
    async with server.session() as s:
        return list(
            (await s.scalars(select(InboxEvent).where(InboxEvent.provider == "forms").order_by(InboxEvent.id))).all()
        )


async def work_pending(server: LiveServer) -> list[InboxEvent]:
    """What the job does for each stored event (the worker is off in these tests)."""
    for event in await events(server):
        if event.status == "pending":
            async with server.session() as s:
                await inbox.work(s, event.id)
    return await events(server)


async def leads(server: LiveServer) -> list[Lead]:
    async with server.session() as s:
        return list((await s.scalars(select(Lead).order_by(Lead.id))).all())


def post_url(server: LiveServer, form: dict[str, Any]) -> str:
    return f"{server.base_url}/webhooks/forms/{form['key']}"


GOOD = {
    "name": " Maria  Ionescu ",
    "email": "Maria@Example.COM",
    "phone": "0722 123 456",
    "company": "Globex SRL",
    "budget": "1500.50",
    "plan": "Pro",
    "heard": "A friend",
    "message": "Please call me about the Pro plan.",
    "website": "",
}


async def test_admin_defines_a_form_and_gets_its_embed_code(server: LiveServer, admin: httpx.AsyncClient) -> None:
    assert (
        await admin.patch("/api/settings", json={"values": {"app.public_url": "https://crm.example.com/"}})
    ).status_code == 200
    form = await make_form(admin, allowed_origins=["https://WWW.Example.com/", "http://localhost:8080"])
    assert form["allowed_origins"] == [SITE, "http://localhost:8080"]
    assert len(form["key"]) >= 20 and form["honeypot"] == "website" and form["assignment"] == "rules"
    assert form["post_url"] == f"https://crm.example.com/webhooks/forms/{form['key']}"
    snippet = (await admin.get(f"/api/web-forms/{form['id']}/snippet")).json()
    html = snippet["html"]
    assert snippet["public_url_set"] is True
    assert f'<form id="crm-form-{form["id"]}" action="{form["post_url"]}" method="post">' in html
    assert f'<input id="crm-form-{form["id"]}-email" name="email" type="email" required>' in html
    assert '<option value="Pro">Pro</option>' in html and "<textarea" in html
    assert '<input name="website" tabindex="-1" autocomplete="off">' in html  # the honeypot, hidden from people

    # Mistakes are named at their field.
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"fields": [*FIELDS, {"name": "EMAIL", "label": "Again"}]}, "fields", "Two fields are named EMAIL"),
        (
            {
                "fields": [
                    {"name": "a", "label": "A", "maps_to": "email"},
                    {"name": "b", "label": "B", "maps_to": "email"},
                ]
            },
            "fields",
            "Only one",
        ),
        ({"fields": [{"name": "p", "label": "Plan", "type": "select"}]}, "fields", "needs its options"),
        ({"allowed_origins": ["example.com"]}, "allowed_origins", "not a website origin"),
        ({"allowed_origins": ["https://example.com/contact"]}, "allowed_origins", "no path"),
        ({"assignment": "owner"}, "owner_id", "Choose who gets"),
        ({"assignment": "team"}, "team_id", "Choose the team"),
        ({"redirect_url": "thanks.html"}, "redirect_url", "full web address"),
        ({"honeypot": "email"}, "honeypot", "spam-trap"),
        ({"name": "contact US"}, "name", "already has this name"),
    ]
    for change, field, words in bad:
        response = await admin.post("/api/web-forms", json={"name": "Other", "fields": FIELDS, **change})
        assert response.status_code == 422, (change, response.text)
        assert response.json()["field"] == field and words in response.json()["message"], response.json()

    # A new key retires the old address at once.
    renewed = (await admin.post(f"/api/web-forms/{form['id']}/new-key")).json()
    assert renewed["key"] != form["key"]
    assert (await admin.post(f"/webhooks/forms/{form['key']}", data=GOOD)).status_code == 404
    async with server.session() as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "web_form"))).all()
    assert list(actions) == ["created", "key_changed"]

    # Salespeople cannot see or change forms.
    await server.create_user("sam@example.com")
    async with server.client() as sam:
        await server.login(sam, "sam@example.com")
        assert (await sam.get("/api/web-forms")).status_code == 403
        assert (
            await sam.put(f"/api/web-forms/{form['id']}", json={"name": "x", "fields": FIELDS, "version": 1})
        ).status_code == 403


async def test_a_form_post_becomes_a_lead_with_its_fields_and_a_note(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    bob = await server.create_user("bob@example.com", full_name="Bob Seller")
    pipelines = (await admin.get("/api/pipelines")).json()
    default = next(p for p in pipelines if p["is_default"])
    second_open = [s for s in default["statuses"] if s["kind"] == "open"][1]
    form = await make_form(admin, assignment="owner", owner_id=bob, status_id=second_open["id"])  # default pipeline
    async with httpx.AsyncClient() as visitor:
        answer = await visitor.post(post_url(server, form), data=GOOD, headers={"Origin": SITE})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert answer.headers["access-control-allow-origin"] == SITE
    assert await leads(server) == []  # the job makes the lead, not the request
    [event] = await work_pending(server)
    assert event.status == "processed", event.error
    assert event.event_type == "submission" and event.remote == "127.0.0.1"
    [lead] = await leads(server)
    assert event.outcome == f"Created lead #{lead.id} (Maria Ionescu) from the form Contact us"
    assert (lead.person_name, lead.email, lead.phone, lead.company) == (
        "Maria Ionescu",
        "Maria@example.com",
        "+40722123456",
        "Globex SRL",
    )
    assert lead.value == Decimal("1500.50") and lead.currency == "EUR" and lead.product_interest == "Pro"
    assert lead.source == "Website form" and lead.source_details == {"form": "Contact us", "form_id": str(form["id"])}
    assert (lead.pipeline_id, lead.status_id, lead.owner_id) == (default["id"], second_open["id"], bob)
    async with server.session() as s:
        [note] = (await s.scalars(select(Note).where(Note.lead_id == lead.id))).all()
    assert note.body == "Please call me about the Pro plan.\n\nHow did you hear of us: A friend"


async def test_json_posts_and_per_field_errors(server: LiveServer, admin: httpx.AsyncClient) -> None:
    form = await make_form(admin)
    async with httpx.AsyncClient() as visitor:
        wrong = await visitor.post(
            post_url(server, form),
            json={"name": "Dan", "email": "dan@", "phone": "12", "budget": "lots", "plan": "Gold", "website": ""},
        )
        assert wrong.status_code == 422
        body = wrong.json()
        assert body["code"] == "invalid" and body["field"] == "email"
        assert body["errors"] == {
            "email": "Enter a valid email address.",
            "phone": "Enter a valid phone number, with the country code if it is abroad.",
            "budget": "Enter an amount, e.g. 1500 or 1500.50.",
            "plan": "Choose one of the offered options.",
            "message": "Message is required.",
        }
        # Nothing stored as work: the refusal is logged in the inbox as rejected, no job, no lead.
        [rejected] = await events(server)
        assert rejected.status == "rejected" and "email: Enter a valid email address." in (rejected.error or "")
        one = await visitor.post(post_url(server, form), json={**GOOD, "email": "  "})
        assert one.status_code == 422 and one.json()["errors"] == {"email": "Email is required."}
        assert one.json()["message"] == "Email is required."
        unreadable = await visitor.post(
            post_url(server, form), content=b"[1, 2]", headers={"Content-Type": "application/json"}
        )
        assert unreadable.status_code == 400 and unreadable.json()["code"] == "malformed"
        ok = await visitor.post(post_url(server, form), json={**GOOD, "budget": 900})  # numbers are fine in JSON
        assert ok.status_code == 200 and ok.json() == {"ok": True, "message": "Thank you, we will be in touch soon."}
    assert [e.status for e in await work_pending(server)] == ["rejected", "rejected", "rejected", "processed"]
    [lead] = await leads(server)
    assert lead.value == Decimal("900") and lead.owner_id is None  # no rule: a manager hands it out


async def test_a_filled_honeypot_hears_success_and_makes_no_lead(server: LiveServer, admin: httpx.AsyncClient) -> None:
    form = await make_form(admin, redirect_url="https://www.example.com/thanks")
    async with httpx.AsyncClient() as robot:
        answer = await robot.post(post_url(server, form), data={**GOOD, "website": "http://spam.example"})
    assert answer.status_code == 303 and answer.headers["location"] == "https://www.example.com/thanks"
    [event] = await work_pending(server)
    assert (event.event_type, event.status) == ("spam", "ignored")
    assert await leads(server) == []


async def test_the_thank_you_page_for_form_posts_and_json_for_scripts(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    form = await make_form(admin, redirect_url="https://www.example.com/thanks")
    async with httpx.AsyncClient() as visitor:
        plain = await visitor.post(post_url(server, form), data=GOOD, headers={"Origin": SITE})
        assert plain.status_code == 303 and plain.headers["location"] == "https://www.example.com/thanks"
        scripted = await visitor.post(
            post_url(server, form), data=GOOD, headers={"Origin": SITE, "Accept": "application/json"}
        )
        assert scripted.status_code == 200 and scripted.json()["ok"] is True
        as_json = await visitor.post(post_url(server, form), json=GOOD)
        assert as_json.status_code == 200
    assert [e.status for e in await work_pending(server)] == ["processed"] * 3


async def test_per_address_limit(server: LiveServer, admin: httpx.AsyncClient) -> None:
    assert (
        await admin.patch("/api/settings", json={"values": {"forms.max_per_window": 3, "forms.window_minutes": 5}})
    ).status_code == 200
    form = await make_form(admin)
    async with httpx.AsyncClient() as visitor:
        statuses = [
            (await visitor.post(post_url(server, form), data=data)).status_code
            for data in (GOOD, {**GOOD, "email": "x"}, GOOD)
        ]
        assert statuses == [200, 422, 200]  # refused posts count too
        over = await visitor.post(post_url(server, form), data=GOOD)
    assert over.status_code == 429 and over.json()["code"] == "too_many_submissions"
    assert 250 <= int(over.headers["retry-after"]) <= 301
    assert len(await events(server)) == 3  # the refused one is not stored


async def test_cors_preflight_and_a_forbidden_origin(server: LiveServer, admin: httpx.AsyncClient) -> None:
    form = await make_form(admin)
    async with httpx.AsyncClient() as browser:
        allowed = await browser.options(
            post_url(server, form),
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == SITE
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "Content-Type" in allowed.headers["access-control-allow-headers"]
        other = "https://evil.example.net"
        refused = await browser.options(post_url(server, form), headers={"Origin": other})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        posted = await browser.post(post_url(server, form), data=GOOD, headers={"Origin": other})
        assert posted.status_code == 403 and posted.json()["code"] == "origin_not_allowed"
        assert (await browser.post(post_url(server, form), data=GOOD, headers={"Origin": "null"})).status_code == 403
    assert await events(server) == []


async def test_inactive_and_unknown_keys(server: LiveServer, admin: httpx.AsyncClient) -> None:
    form = await make_form(admin)
    update = {
        "name": form["name"],
        "fields": form["fields"],
        "allowed_origins": form["allowed_origins"],
        "active": False,
        "version": form["version"],
    }
    assert (await admin.put(f"/api/web-forms/{form['id']}", json=update)).status_code == 200
    async with httpx.AsyncClient() as visitor:
        for url in (post_url(server, form), f"{server.base_url}/webhooks/forms/no-such-key"):
            answer = await visitor.post(url, data=GOOD)
            assert answer.status_code == 404 and answer.json()["code"] == "unknown_form"
            assert (await visitor.options(url, headers={"Origin": SITE})).status_code == 404
    assert await events(server) == []


async def test_team_round_robin_and_the_assignment_rules(server: LiveServer, admin: httpx.AsyncClient) -> None:
    ann = await server.create_user("ann@example.com", full_name="Ann", team="Web team")
    cid = await server.create_user("cid@example.com", full_name="Cid", team="Web team")
    dee = await server.create_user("dee@example.com", full_name="Dee")
    team_id = next(t["id"] for t in (await admin.get("/api/teams")).json() if t["name"] == "Web team")
    by_team = await make_form(admin, name="Team form", assignment="team", team_id=team_id)
    by_rules = await make_form(admin, name="Rules form")
    rule = {"name": "Web", "source": "Website form", "user_id": dee}
    assert (await admin.post("/api/assignment-rules", json=rule)).status_code == 201
    async with httpx.AsyncClient() as visitor:
        for form in (by_team, by_team, by_rules):
            assert (await visitor.post(post_url(server, form), data=GOOD)).status_code == 200
    await work_pending(server)
    made = await leads(server)
    assert [(lead.owner_id, lead.team_id) for lead in made][:2] in (
        [(ann, team_id), (cid, team_id)],
        [(cid, team_id), (ann, team_id)],
    )
    assert made[2].owner_id == dee


async def test_send_test_event_reaches_the_inbox_and_changes_nothing(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    not_yet = (await admin.post("/api/integrations/forms/test")).json()
    assert not_yet["ok"] is False  # no active form yet: not configured
    await make_form(admin)
    result = (await admin.post("/api/integrations/forms/test")).json()
    assert result["ok"] is True, result
    assert (result["event"]["event_type"], result["event"]["status"]) == ("test", "ignored")
    async with httpx.AsyncClient() as stranger:  # the shared test door is an admin's only
        assert (await stranger.post(f"{server.base_url}/webhooks/forms", data=GOOD)).status_code == 401
    assert await leads(server) == []


async def test_a_post_waiting_when_its_form_is_deleted_still_becomes_a_lead(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    form = await make_form(admin)
    async with httpx.AsyncClient() as visitor:
        assert (await visitor.post(post_url(server, form), data=GOOD)).status_code == 200
    assert (await admin.delete(f"/api/web-forms/{form['id']}")).json() == {"ok": True}
    assert (await admin.get(f"/api/web-forms/{form['id']}")).status_code == 404
    [event] = await work_pending(server)
    assert event.status == "processed", event.error
    [lead] = await leads(server)  # the fields as they were when posted; the default pipeline
    assert (lead.person_name, lead.company, lead.source_details["form"]) == (
        "Maria Ionescu",
        "Globex SRL",
        "Contact us",
    )
    async with httpx.AsyncClient() as visitor:
        assert (await visitor.post(post_url(server, form), data=GOOD)).status_code == 404
