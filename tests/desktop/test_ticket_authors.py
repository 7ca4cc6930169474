"""Who wrote each comment, as a support agent sees it in the ticket window: a colleague's internal
note and reply carry the colleague's name (an agent may not read the user admin, so the name comes
with the comment), the customer's emailed message their address; an internal note never reads as
"Customer"."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import update

from crm_desktop.api import auth, tickets
from crm_desktop.session import Session
from crm_desktop.views.tickets.conversation import CommentCard
from crm_desktop.views.tickets.detail import TicketWindow, open_ticket
from crm_server.contract.tickets import AssignIn, CommentIn, TicketIn
from crm_server.tickets import service
from crm_server.tickets.models import TicketComment
from tests.desktop.conftest import Desk


def meta_of(card: CommentCard) -> str:
    """The card's "who · when" line, as shown."""
    from PySide6.QtWidgets import QLabel

    return next(label.text() for label in card.findChildren(QLabel) if label.objectName() == "commentMeta")


def test_an_agent_sees_who_wrote_each_note_and_reply(desk: Desk, qtbot: QtBot) -> None:
    lead = desk.signed_in_api("grace.lead@example.com")  # an admin, named "Grace.Lead"
    agent = desk.signed_in_api("ivan.agent@example.com", role="Support agent")
    me = desk.run(auth.me(agent))
    ticket = desk.run(tickets.create_ticket(lead, TicketIn(subject="Orders stopped syncing")))
    desk.run(tickets.assign_ticket(lead, ticket.id, AssignIn(version=ticket.version, assignee_id=me.id)))
    desk.run(tickets.add_comment(lead, ticket.id, CommentIn(body="VIP: keep me posted.", public=False)))
    desk.run(tickets.add_comment(agent, ticket.id, CommentIn(body="We are on it.", public=True)))
    desk.run(tickets.add_comment(lead, ticket.id, CommentIn(body="Logs attached by a leaver.", public=False)))

    async def leaver_gone() -> None:  # the note's author's account was removed (the column is SET NULL)
        async with desk.server.session() as s:
            await s.execute(
                update(TicketComment).where(TicketComment.body.startswith("Logs attached")).values(author_id=None)
            )
        async with desk.server.session() as s:  # and the customer answered by email
            await service.add_public_comment_from_email(
                s, ticket.number, sender="reader@example.com", body="Still broken here.", attachments=[]
            )

    desk.on_server(leaver_gone())

    window = open_ticket(None, Session(agent, me), ticket.id)
    assert isinstance(window, TicketWindow)
    qtbot.addWidget(window)
    desk.wait_until(
        lambda: window.ticket is not None and not window.is_busy() and len(window.conversation.cards()) == 4,
        message="the conversation did not load",
    )
    note, reply, orphan, customer = window.conversation.cards()
    assert note.internal and meta_of(note).startswith("Grace.Lead · "), meta_of(note)
    assert not reply.internal and meta_of(reply).startswith("Ivan.Agent · "), meta_of(reply)
    assert orphan.internal and meta_of(orphan).startswith("A former colleague · "), meta_of(orphan)
    assert customer.kind.text() == "From the customer" and meta_of(customer).startswith("reader@example.com · ")
    assert note.kind.text() == "Internal note" and reply.kind.text() == "Reply to customer"
    # The header's clock: the reply was the first response.
    assert window.sla.text().startswith("Answered in"), window.sla.text()
