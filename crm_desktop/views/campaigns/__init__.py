"""The Campaigns module: build an e-mail campaign from a saved view, watch it send, read its results."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.campaigns.page import CampaignsPage

    return CampaignsPage(session)
