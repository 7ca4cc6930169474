"""What the proposals list and editor share: status words and tones (dates, moments and amounts
are shown by crm_desktop.format; the change-bus areas are crm_desktop.api.proposals.CHANGED)."""

from __future__ import annotations

from crm_desktop import format
from crm_server.contract.proposals import ProposalOut, ProposalStatus

S = ProposalStatus

STATUS_LABELS = {status: format.label(status) for status in S}
STATUS_TONES = {
    S.draft: "muted",
    S.sent: "accent",
    S.open: "accent",
    S.revised: "warning",
    S.accepted: "success",
    S.declined: "danger",
}
# The button that moves a proposal to a status (the moves themselves come from ALLOWED_MOVES).
MOVE_LABELS = {
    S.sent: "Mark sent",
    S.open: "Open",
    S.revised: "Mark revised",
    S.accepted: "Accept",
    S.declined: "Decline",
}
MOVE_TIPS = {
    S.sent: "The client has it now; it waits for their answer",
    S.open: "Under discussion with the client (an expired one gets 7 more days)",
    S.revised: "The offer changed and must be sent again",
    S.accepted: "The client said yes: record who and when (final)",
    S.declined: "The client said no: record who and when (final)",
}
EXPIRED_TONE = "danger"  # theme.TONES: an expired proposal in the list
DECLINED_TONE = "neutral"


def status_text(row: ProposalOut) -> str:
    """ "Sent", "Revised (rev 3)", "Open · expired"."""
    text = STATUS_LABELS[row.status]
    if row.revision > 1:
        text += f" (rev {row.revision})"
    if row.expired:
        text += " · expired"
    return text
