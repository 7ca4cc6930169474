"""Won: the lead becomes a client (new, or one that exists) with the person as a contact. The
lead's notes and follow-ups are shared with the client and the lead keeps a link to it, so the
client's timeline shows the whole history of the deal."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server.activities.models import FollowUp, Note
from crm_server.admin import audit
from crm_server.auth.models import User
from crm_server.auth.permissions import Principal
from crm_server.clients import service as clients
from crm_server.clients.models import Client, Contact
from crm_server.contract.clients import ClientIn, ClientOut, ContactIn
from crm_server.contract.leads import ConversionIn
from crm_server.errors import Conflict
from crm_server.leads.duplicates import merged_ids
from crm_server.leads.models import Lead


async def convert(session: AsyncSession, actor: Principal, lead: Lead, data: ConversionIn | None) -> ClientOut:
    if lead.converted_client_id is not None:
        raise Conflict(
            "This lead was converted already.", code="converted", extra={"client_id": lead.converted_client_id}
        )
    data = data or ConversionIn()
    if data.existing_client_id is not None:
        client = await clients.visible_client(session, actor, data.existing_client_id)
        if not any(
            c.email and lead.email and c.email.lower() == lead.email.lower()
            for c in (await session.scalars(select(Contact).where(Contact.client_id == client.id))).all()
        ):
            await clients.add_contact(
                session, actor, client.id, ContactIn(name=lead.person_name, email=lead.email, phone=lead.phone)
            )
    else:
        owner = await session.get(User, lead.owner_id) if lead.owner_id is not None else None
        owner_id = owner.id if owner is not None and owner.active else actor.user_id
        made = await clients.create_client(
            session,
            actor,
            ClientIn(
                name=data.name or lead.company or lead.person_name,
                vat_number=data.vat_number,
                address=data.address,
                website=data.website,
                email=lead.email,
                phone=lead.phone,
                owner_id=owner_id,
                team_id=lead.team_id if owner_id == lead.owner_id else None,
                contacts=[ContactIn(name=lead.person_name, email=lead.email, phone=lead.phone)],
            ),
            guard=False,
            check_owner=False,
        )
        client = await session.get_one(Client, made.id)
    history = merged_ids(lead.id)
    for model in (Note, FollowUp):
        await session.execute(
            update(model)
            .where(model.lead_id.in_(history), model.client_id.is_(None))
            .values(client_id=client.id)
            .execution_options(synchronize_session=False)
        )
    lead.converted_client_id = client.id
    await session.flush()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="lead",
        entity_id=lead.id,
        action="converted",
        changes=[{"field": "converted_client_id", "old": None, "new": client.id}],
    )
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="client",
        entity_id=client.id,
        action="lead_converted",
        changes=[{"field": "lead_id", "old": None, "new": lead.id}],
    )
    return await clients.client_out(session, client)
