"""The Commissions module (issue #25): the commissions list with approve / mark paid / add by
hand (list.py), the payout report with its Excel export (payouts.py), and the policies (policies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtWidgets import QWidget

from crm_desktop.session import Session


def create_page(session: Session) -> QWidget:
    from crm_desktop.views.commissions.page import CommissionsPage

    return CommissionsPage(session)


def screenshot_states(ctx: Any) -> Iterator[tuple[str, QWidget]]:
    ctx.main.open_module("commissions")
    page = ctx.main.pages["commissions"].content
    yield "commissions", page
    page.tabs.setCurrentIndex(1)
    yield "commissions-payouts", page
    page.tabs.setCurrentIndex(2)
    yield "commissions-policies", page
    if page.policies.policies:
        editor = page.policies.open_editor(page.policies.policies[-1])
        yield "commissions-policy-editor", editor
        editor.close()
    by_hand = page.list.add_by_hand()
    yield "commissions-by-hand", by_hand
    by_hand.close()
