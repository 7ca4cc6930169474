"""The Campaigns module: build an e-mail campaign from a saved view, watch it send, read its results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.campaigns.page import CampaignsPage

    return CampaignsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    """The page with a draft campaign chosen, the builder and the consent dialog."""
    from crm_desktop.api import campaigns as campaigns_api
    from crm_server.contract.campaigns import CampaignEntity, CampaignIn, Preset

    draft = CampaignIn(
        entity=CampaignEntity.lead,
        filters={"q": "a"},
        name="Spring offer",
        subject="Spring offer for {{lead.company}}",
        body="Dear {{lead.person_name}},\n\nOur spring offer: https://example.com/spring\n\nKind regards",
        preset=Preset.m365,
    )
    made = ctx.run(campaigns_api.save(ctx.api, draft))
    ctx.main.open_module("campaigns")
    page = ctx.main.pages["campaigns"].content
    yield "campaigns-empty-or-list", page
    if made.done() and not made.exception():
        page.model.reload()
        page.show_campaign(made.result())
        page.refresh_current()
    yield "campaigns", page
    builder = page.new_campaign()
    builder.name.setText("Autumn newsletter")
    builder.subject.setText("News from {{company.name}}")
    builder.body.setPlainText("Dear {{lead.person_name}},\n\nWhat is new this autumn: https://example.com/news")
    yield "campaigns-builder", builder
    builder.close()
    consent = page.record_consent()
    yield "campaigns-consent", consent
    consent.close()
