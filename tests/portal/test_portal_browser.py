"""The partner portal in a real browser (Debian's headless chromium driven by selenium through
chromedriver), as a partner uses it: accept the invitation, sign in, register a lead; an office
desktop (pytest-qt) shows the lead live; the salesperson moves its stage on the desktop and the
partner's page shows the new stage; once the deal's invoice is paid and the policy's waiting days
have passed, the partner's dashboard shows the commission. One browser for the module."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from crm_desktop.api import auth
from crm_desktop.session import Session
from crm_desktop.views.leads.detail import open_lead
from crm_desktop.views.leads.list import LeadList
from tests.desktop.conftest import Desk
from tests.support import PASSWORD as STAFF_PASSWORD
from tests.support import LiveServer, Smtp

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (tests/run installs them)", allow_module_level=True
    )

from selenium import webdriver  # noqa: E402  (after the skip: only needed with a browser)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

PASSWORD = "Tangerine-Harbour-42"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="crm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=412,900",  # a phone's width: the portal is one column
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """With its job worker: the invitation e-mail is a job."""
    with LiveServer.run(database_url, worker=True) as live:
        yield live


def shows(driver: WebDriver, title: str) -> None:
    """Wait for the page a click leads to (a form post answers with a redirect: it loads later)."""
    WebDriverWait(driver, 20).until(lambda d: d.title.startswith(title), f"no page titled {title!r}")


def fill(driver: WebDriver, **fields: str) -> None:
    for name, value in fields.items():
        box = driver.find_element(By.ID, name)
        box.clear()
        box.send_keys(value)


def test_a_partner_registers_a_lead_the_office_sees_it_live_and_the_partner_sees_it_move(
    desk: Desk, qtbot: QtBot, smtp: Smtp, browser: WebDriver
) -> None:
    sam_id = desk.create_user("sam@example.com", full_name="Sam Seller")
    admin = desk.signed_in_api()
    desk.run(admin.patch("/api/settings", {"values": smtp.settings()}))
    partner = desk.run(admin.post("/api/partners", {"name": "Contoso Partners", "managing_user_id": sam_id}))
    person = desk.run(
        admin.post(f"/api/partners/{partner['id']}/users", {"email": "cleo@contoso.example", "full_name": "Cleo"})
    )
    desk.run(admin.post(f"/api/partners/{partner['id']}/users/{person['id']}/invite"))
    [message] = desk.run(smtp.wait_for(1, timeout=60))
    link = re.search(r"(http\S+/portal/accept\?token=\S+)", message.get_content())
    assert link, message.get_content()

    # The office: Sam's lead list, live.
    sam = desk.api()
    desk.run(auth.login(sam, "sam@example.com", STAFF_PASSWORD))
    session = Session(sam, desk.run(auth.me(sam)))
    leads = LeadList(session)
    qtbot.addWidget(leads)
    leads.resize(1100, 700)
    leads.show()
    session.start()
    desk.wait_until(lambda: session.events.state == "connected", message="the event stream did not connect")
    desk.wait_until(lambda: leads.model.total is not None and not leads.model.loading)
    assert leads.model.rows() == []

    # The partner: accept the invitation, sign in, register a lead.
    browser.get(link.group(1))
    shows(browser, "Choose your password")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Welcome, Cleo"
    fill(browser, password=PASSWORD, repeat=PASSWORD)
    browser.find_element(By.ID, "accept").click()
    shows(browser, "Sign in")
    assert "Your password is set" in browser.find_element(By.CLASS_NAME, "notice").text
    fill(browser, email="cleo@contoso.example", password=PASSWORD)
    browser.find_element(By.ID, "signin").click()
    shows(browser, "Dashboard")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard"
    # The stylesheet loaded under the strict CSP (one column: the nav wraps on a phone's width).
    assert browser.find_element(By.TAG_NAME, "main").value_of_css_property("max-width") == "704px"
    browser.find_element(By.LINK_TEXT, "Register a lead").click()
    shows(browser, "Register a lead")
    fill(browser, company="Tailspin Toys", contact="Carla Browser", email="carla@tailspin.example", interest="CRM")
    browser.find_element(By.ID, "register").click()
    shows(browser, "Lead sent")
    assert browser.find_element(By.ID, "outcome").get_attribute("data-outcome") == "registered"

    desk.wait_until(
        lambda: [lead.person_name for lead in leads.model.rows()] == ["Carla Browser"],
        message="the office desktop did not show the partner's lead live",
    )
    [lead] = leads.model.rows()
    assert lead.owner_id == sam_id and lead.partner_name == "Contoso Partners"

    # Sam moves it on the desktop; the partner's page shows the new stage.
    browser.find_element(By.LINK_TEXT, "My leads").click()
    shows(browser, "My leads")
    browser.find_element(By.LINK_TEXT, "Tailspin Toys").click()
    shows(browser, "Tailspin Toys")
    assert browser.find_element(By.ID, "stage").text == "Received"
    window = open_lead(None, session, lead.id)
    qtbot.addWidget(window)
    desk.wait_until(lambda: window.lead is not None and not window.is_busy(), message="the lead did not load")
    assert window.partner_note.text().startswith("Partner: Contoso Partners (Cleo) · registered")
    second = [s for s in window.stages() if s.kind == "open"][1]
    window.move_to(second.id)
    desk.wait_until(lambda: window.lead is not None and window.lead.status_id == second.id, message="not moved")
    browser.refresh()
    shows(browser, "Tailspin Toys")
    assert browser.find_element(By.ID, "stage").text == "In progress"
    with httpx.Client(base_url=desk.server.base_url) as plain:  # the page is the partner's alone
        assert plain.get(browser.current_url.replace(desk.server.base_url, "")).status_code == 303

    # The deal is won and invoiced from its proposal; the invoice is paid 11 days ago (the policy
    # waits 10): the daily calculation credits the partner 10 % of the 1,000.00 net, and the
    # partner's dashboard shows it pending.
    today = date.today()
    desk.run(
        admin.post(
            "/api/commissions/policies",
            {
                "name": "Partners 10 %",
                "basis": "percent",
                "wait_days": 10,
                "starts_on": (today.replace(day=1) - timedelta(days=31)).replace(day=1).isoformat(),
                "tiers": [{"threshold": "0", "rate": "10"}],
                "members": [{"partner_id": partner["id"]}],
            },
        )
    )
    won_status = next(s.id for s in window.stages() if s.kind == "won")
    fresh = desk.run(admin.get(f"/api/leads/{lead.id}"))
    won = desk.run(
        admin.post(
            f"/api/leads/{lead.id}/move", {"version": fresh["version"], "status_id": won_status, "convert": True}
        )
    )
    rate = next(r["id"] for r in desk.run(admin.get("/api/tax-rates")) if r["name"] == "Standard 19%")
    line = {"description": "CRM set-up", "quantity": "1", "unit_price": "1000.00", "tax_rate_id": rate}
    proposal = desk.run(admin.post("/api/proposals", {"client_id": won["client"]["id"], "lines": [line]}))
    for status in ("sent", "accepted"):
        proposal = desk.run(
            admin.post(f"/api/proposals/{proposal['id']}/status", {"version": proposal["version"], "status": status})
        )
    draft = desk.run(admin.post(f"/api/proposals/{proposal['id']}/convert"))
    invoice = desk.run(admin.post(f"/api/invoices/{draft['id']}/issue", {"version": draft["version"]}))
    paid_on = (today - timedelta(days=11)).isoformat()
    desk.run(
        admin.post(f"/api/invoices/{invoice['id']}/payments", {"amount": invoice["gross_total"], "paid_on": paid_on})
    )
    desk.run(admin.post("/api/admin/jobs/commissions.calculate/run"))
    for _ in range(300):  # the job runs on the server's worker
        if desk.run(admin.get("/api/commissions", partner_id=partner["id"]))["items"]:
            break
        desk.run(asyncio.sleep(0.2))
    else:
        raise AssertionError("no commission was calculated for the partner")
    browser.find_element(By.LINK_TEXT, "Dashboard").click()
    shows(browser, "Dashboard")
    assert browser.find_element(By.ID, "commission-pending").text.strip() == "100.00 EUR"
    assert browser.find_element(By.ID, "commission-earned").text.strip() == "100.00 EUR"
