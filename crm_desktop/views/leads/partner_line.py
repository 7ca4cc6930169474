"""The lead window's line about the partner a lead is credited to (issue #25), in words."""

from __future__ import annotations

from crm_desktop import format
from crm_server.contract.partners import LeadPartnerOut

STATES = {
    "registered": "registered",
    "needs_review": "under review",
    "lapsed": "protection lapsed",
    "won": "won",
    "lost": "lost",
    "rejected": "not accepted",
}


def partner_text(answer: LeadPartnerOut) -> str:
    """E.g. "Partner: Acme Ltd (Pat Jones) · registered, protected until 5 Mar 2027"; "" for none."""
    reg = answer.registration
    if reg is None:
        return ""
    who = reg.partner_name + (f" ({reg.partner_user_name})" if reg.partner_user_name else "")
    state = STATES.get(reg.state, reg.state)
    if reg.state == "registered" and reg.protected_until is not None:
        state += f", protected until {format.day(reg.protected_until)}"
    return f"Partner: {who} · {state}"
