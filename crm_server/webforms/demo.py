"""Demo website forms: the website's "Contact us" form (leads go by the assignment rules) and a
"Request a quote" form shared round-robin in Sales North, made through the forms service so keys,
embed snippets and the audit are the real thing. Their submissions are in crm_server/integrations/demo.py."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.auth.models import Team
from crm_server.auth.permissions import Principal
from crm_server.contract.webforms import FormField, WebFormIn
from crm_server.webforms import service
from crm_server.webforms.models import WebForm

WEBSITE = "https://www.demo-shop.example"
CONTACT = "Contact us"
QUOTE = "Request a quote"
INTERESTS = ("POS hardware", "Software licences", "Support contract", "Training")
HEARD_FROM = ("Search engine", "A colleague", "Trade fair", "Social media")


def _contact() -> WebFormIn:
    return WebFormIn(
        name=CONTACT,
        allowed_origins=[WEBSITE],
        redirect_url=f"{WEBSITE}/thank-you",
        fields=[
            FormField(name="name", label="Your name", required=True, maps_to="person_name"),
            FormField(name="email", label="Email", type="email", required=True, maps_to="email"),
            FormField(name="phone", label="Phone", type="phone", maps_to="phone"),
            FormField(name="message", label="Message", type="textarea", required=True, maps_to="note"),
        ],
    )


def _quote(team_id: int | None) -> WebFormIn:
    return WebFormIn(
        name=QUOTE,
        allowed_origins=[WEBSITE, "https://shop.demo-shop.example"],
        assignment="team" if team_id is not None else "rules",
        team_id=team_id,
        fields=[
            FormField(name="name", label="Your name", required=True, maps_to="person_name"),
            FormField(name="company", label="Company", required=True, maps_to="company"),
            FormField(name="email", label="Work email", type="email", required=True, maps_to="email"),
            FormField(name="phone", label="Phone", type="phone", maps_to="phone"),
            FormField(
                name="interest",
                label="Interested in",
                type="select",
                required=True,
                maps_to="product_interest",
                options=list(INTERESTS),
            ),
            FormField(name="budget", label="Budget (EUR)", maps_to="value"),
            FormField(name="details", label="What do you need?", type="textarea", maps_to="note"),
            FormField(
                name="heard",
                label="How did you hear about us?",
                type="select",
                maps_to="none",
                options=list(HEARD_FROM),
            ),
        ],
    )


async def seed_web_forms(session: AsyncSession, actor: Principal) -> list[WebForm]:
    """The two forms, in the order above."""
    team_id = await session.scalar(select(Team.id).where(Team.name == "Sales North"))
    made = [await service.create_form(session, actor, data, "") for data in (_contact(), _quote(team_id))]
    return [await service.get_form(session, out.id) for out in made]
