"""The rules of clients and contacts: every change is validated, audited and announced here, inside
the caller's transaction (services never commit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_server import events, paging
from crm_server.admin import audit, settings
from crm_server.auth.permissions import Principal
from crm_server.clients import double_submit, normalise
from crm_server.clients.models import Client, Contact
from crm_server.clients.ownership import owner_and_team
from crm_server.concurrency import check_version
from crm_server.contract.clients import (
    ClientIn,
    ClientOut,
    ClientQuery,
    ClientUpdate,
    ContactIn,
    ContactOut,
    ContactRow,
    ContactUpdate,
    RecordWarning,
)
from crm_server.contract.common import Page
from crm_server.db import savepoint, utcnow
from crm_server.errors import Conflict, NotFound, ValidationFailed

MODULE = "clients"
CLIENT_FIELDS = ("name", "vat_number", "address", "phone", "email", "website", "owner_id", "team_id", "is_vendor")
CONTACT_FIELDS = ("name", "email", "phone", "position")
SORTS = {
    "name": (Client.name_key, Client.id),
    "created_at": (Client.created_at, Client.id),
    "updated_at": (Client.updated_at, Client.id),
}


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


def removed(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Audit changes of a record that goes away: every field from its value to nothing."""
    return [
        {"field": k, "old": audit.diff({}, {k: v})[0]["new"] if v is not None else None, "new": None}
        for k, v in values.items()
    ]


def announce(session: AsyncSession, actor_id: int | None, client: Client, action: str, **data: Any) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="client",
        entity_id=client.id,
        action=action,
        actor_id=actor_id,
        owner_id=client.owner_id,
        team_id=client.team_id,
        data={"version": client.version, **data},
    )


# --- reading -------------------------------------------------------------------------------------


async def visible_client(session: AsyncSession, principal: Principal, client_id: int, *, lock: bool = False) -> Client:
    """The client, if this user may see it; otherwise 404 (whether it exists is not told)."""
    client = await session.get(Client, client_id, with_for_update=lock, populate_existing=lock)
    if client is None or not principal.sees(MODULE, client.owner_id, client.team_id):
        raise NotFound("No such client.")
    return client


async def client_out(
    session: AsyncSession, client: Client, warnings: list[RecordWarning] | None = None, with_contacts: bool = True
) -> ClientOut:
    out = ClientOut.model_validate(client)
    if with_contacts:
        contacts = (
            await session.scalars(
                select(Contact).where(Contact.client_id == client.id).order_by(Contact.name, Contact.id)
            )
        ).all()
        out.contacts = [ContactOut.model_validate(c) for c in contacts]
    out.warnings = warnings or []
    return out


def _list_query(principal: Principal, query: ClientQuery) -> Select[Client]:
    stmt = select(Client).where(principal.scope_filter(MODULE, Client.owner_id, Client.team_id))
    stmt = stmt.where(Client.archived_at.is_not(None) if query.archived else Client.archived_at.is_(None))
    if query.q and query.q.strip():
        stmt = stmt.where(Client.search_text.like(paging.like_pattern(query.q), escape="\\"))
    if query.owner_id is not None:
        stmt = stmt.where(Client.owner_id == query.owner_id)
    if query.team_id is not None:
        stmt = stmt.where(Client.team_id == query.team_id)
    if query.is_vendor is not None:
        stmt = stmt.where(Client.is_vendor.is_(query.is_vendor))
    return stmt


async def list_clients(session: AsyncSession, principal: Principal, query: ClientQuery) -> Page[ClientOut]:
    columns = SORTS[query.sort.lstrip("-")]
    order = tuple(c.desc() for c in columns) if query.sort.startswith("-") else columns
    return await paging.page(
        session,
        _list_query(principal, query),
        query.offset,
        query.limit,
        ClientOut.model_validate,
        order,
        after=query.after,
    )


async def list_contacts(session: AsyncSession, principal: Principal, query: ClientQuery) -> Page[ContactRow]:
    """The contacts of the clients the client list shows for `query`, by client name."""
    shown = _list_query(principal, query).with_only_columns(Client.id).scalar_subquery()
    stmt = (
        select(Contact, Client.name.label("client_name"))
        .join(Client, Client.id == Contact.client_id)
        .where(Contact.client_id.in_(shown))
    )
    return await paging.page(
        session,
        stmt,
        query.offset,
        query.limit,
        lambda row: ContactRow.model_validate(
            {**ContactOut.model_validate(row[0]).model_dump(), "client_name": row[1]}
        ),
        (Client.name, Contact.name, Contact.id),
        whole_rows=True,
        after=query.after,
    )


async def by_vat(session: AsyncSession, key: str | None, except_id: int | None = None) -> Client | None:
    if key is None:
        return None
    stmt = select(Client).where(Client.vat_key == key)
    if except_id is not None:
        stmt = stmt.where(Client.id != except_id)
    return (await session.scalars(stmt)).first()


def _duplicate_vat(actor: Principal | None, twin: Client | None) -> ValidationFailed:
    """The same VAT exists: the twin is named (its id, to open it) only to whoever may see it."""
    if twin is not None and (actor is None or actor.sees(MODULE, twin.owner_id, twin.team_id)):
        return ValidationFailed(
            "A client with this VAT number exists already.",
            field="vat_number",
            code="duplicate_vat",
            extra={"client_id": twin.id},
        )
    return ValidationFailed(
        "A record you cannot see has this VAT number; ask a manager to share it with you.",
        field="vat_number",
        code="duplicate_vat",
    )


async def similar_names(
    session: AsyncSession, actor: Principal | None, name: str, except_id: int | None = None
) -> list[RecordWarning]:
    """Clients with the same name: named to whoever may see them, unnamed otherwise."""
    stmt = (
        select(Client.id, Client.name, Client.owner_id, Client.team_id)
        .where(Client.name_key == normalise.name_key(name))
        .limit(5)
    )
    if except_id is not None:
        stmt = stmt.where(Client.id != except_id)
    warnings = []
    for other_id, other_name, owner_id, team_id in (await session.execute(stmt)).all():
        if actor is None or actor.sees(MODULE, owner_id, team_id):
            warnings.append(
                RecordWarning(
                    code="similar_name",
                    message=f"Another client is called {other_name!r}.",
                    client_id=other_id,
                    reasons=["name"],
                )
            )
        else:
            warnings.append(
                RecordWarning(
                    code="similar_name", reasons=["name"], message="A client you cannot see has a similar name."
                )
            )
    return warnings


# --- writing -------------------------------------------------------------------------------------


async def _clean(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise what was typed; errors name the field."""
    country = await settings.get(session, "company.default_country")
    clean = dict(values)
    for key in ("address", "website", "vat_number"):
        if key in clean:
            clean[key] = normalise.clean_text(clean[key])
    if "name" in clean:
        clean["name"] = " ".join((clean["name"] or "").split())
        if not clean["name"]:
            raise ValidationFailed("A client needs a name.", field="name")
    if "email" in clean:
        clean["email"] = normalise.email(clean["email"])
    if "phone" in clean:
        clean["phone"] = normalise.phone(clean["phone"], country)
    return clean


async def _flush_vat(session: AsyncSession, actor: Principal | None, client: Client) -> None:
    """Save; a twin created concurrently with the same VAT becomes the same clear error."""
    try:
        async with savepoint(session):  # a refused insert is forgotten, the transaction lives on
            session.add(client)
            await session.flush()
    except IntegrityError as exc:
        if "uq_clients_vat_key" not in str(exc.orig):
            raise
        raise _duplicate_vat(actor, await by_vat(session, client.vat_key)) from None


async def create_client(
    session: AsyncSession, actor: Principal | None, data: ClientIn, *, guard: bool = True, check_owner: bool = True
) -> ClientOut:
    """A new client (and its first contacts). A second client with the same VAT is refused; a
    similar name only warns. `check_owner=False` when the owner comes from a record the actor may
    already work on (a won lead becoming a client)."""
    actor_id = actor.user_id if actor else None
    fp = None
    if actor is not None and guard:
        fp, earlier = await double_submit.claim(session, actor.user_id, "client", data.model_dump(mode="json"))
        if earlier is not None and (first := await session.get(Client, earlier)) is not None:
            return await client_out(
                session,
                first,
                [
                    RecordWarning(
                        code="repeated_submit",
                        message="This was just saved; here is the first one.",
                        client_id=first.id,
                    )
                ],
            )
    values = await _clean(session, data.model_dump(exclude={"contacts"}))
    key = normalise.vat_key(values["vat_number"])
    if (twin := await by_vat(session, key)) is not None:
        raise _duplicate_vat(actor, twin)
    owner_id = values["owner_id"] if values["owner_id"] is not None else actor_id
    owner_id, team_id = await owner_and_team(
        session, actor if check_owner else None, MODULE, owner_id, values["team_id"]
    )
    warnings = await similar_names(session, actor, values["name"])
    client = Client(**{**values, "owner_id": owner_id, "team_id": team_id}, vat_key=key, created_by=actor_id)
    await _flush_vat(session, actor, client)
    audit.record(
        session,
        actor_id=actor_id,
        entity="client",
        entity_id=client.id,
        action="created",
        changes=audit.diff({}, _fields(client, CLIENT_FIELDS)),
    )
    announce(session, actor_id, client, "created")
    for contact in data.contacts:
        await _add_contact(session, actor_id, client, contact)
    if fp is not None and actor is not None:
        await double_submit.remember(session, actor.user_id, fp, client.id)
    # A client made this instant has only the contacts it came with: no query when it came with none.
    return await client_out(session, client, warnings, with_contacts=bool(data.contacts))


async def update_client(session: AsyncSession, actor: Principal, client_id: int, data: ClientUpdate) -> ClientOut:
    client = await visible_client(session, actor, client_id, lock=True)
    check_version(client, data.version)
    changes = await _clean(session, data.model_dump(exclude_unset=True, exclude={"version"}))
    if "is_vendor" in changes and changes["is_vendor"] is None:
        changes.pop("is_vendor")
    if "owner_id" in changes or "team_id" in changes:
        owner_id = changes.get("owner_id", client.owner_id)
        team_id = (
            changes.get("team_id") if "team_id" in changes else (None if "owner_id" in changes else client.team_id)
        )
        changes["owner_id"], changes["team_id"] = await owner_and_team(session, actor, MODULE, owner_id, team_id)
    if "vat_number" in changes:
        key = normalise.vat_key(changes["vat_number"])
        if (twin := await by_vat(session, key, except_id=client.id)) is not None:
            raise _duplicate_vat(actor, twin)
        client.vat_key = key
    before = _fields(client, CLIENT_FIELDS)
    for key, value in changes.items():
        setattr(client, key, value)
    await _flush_vat(session, actor, client)
    warnings = await similar_names(session, actor, client.name, client.id) if "name" in changes else []
    diff = audit.diff(before, _fields(client, CLIENT_FIELDS))
    if diff:
        audit.record(
            session, actor_id=actor.user_id, entity="client", entity_id=client.id, action="updated", changes=diff
        )
        announce(session, actor.user_id, client, "updated")
    return await client_out(session, client, warnings)


async def set_archived(
    session: AsyncSession, actor: Principal, client_id: int, version: int, archived: bool
) -> ClientOut:
    """Archive or restore: clients are never deleted (invoices and tickets point at them)."""
    client = await visible_client(session, actor, client_id, lock=True)
    check_version(client, version)
    if (client.archived_at is not None) == archived:
        raise Conflict(
            "The client is archived already." if archived else "The client is not archived.",
            code="already_archived" if archived else "not_archived",
        )
    old = client.archived_at
    client.archived_at = utcnow() if archived else None
    await session.flush()
    action = "archived" if archived else "restored"
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="client",
        entity_id=client.id,
        action=action,
        changes=audit.diff({"archived_at": old}, {"archived_at": client.archived_at}),
    )
    announce(session, actor.user_id, client, action)
    return await client_out(session, client)


# --- contacts ------------------------------------------------------------------------------------


def _announce_contact(
    session: AsyncSession, actor_id: int | None, client: Client, contact_id: int, action: str
) -> None:
    events.emit(
        session,
        module=MODULE,
        entity="contact",
        entity_id=contact_id,
        action=action,
        actor_id=actor_id,
        owner_id=client.owner_id,
        team_id=client.team_id,
        data={"client_id": client.id},
    )


async def _clean_contact(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    country = await settings.get(session, "company.default_country")
    clean = dict(values)
    if "name" in clean:
        clean["name"] = " ".join((clean["name"] or "").split())
        if not clean["name"]:
            raise ValidationFailed("A contact needs a name.", field="name")
    if "email" in clean:
        clean["email"] = normalise.email(clean["email"])
    if "phone" in clean:
        clean["phone"] = normalise.phone(clean["phone"], country)
    if "position" in clean:
        clean["position"] = normalise.clean_text(clean["position"])
    return clean


async def _add_contact(session: AsyncSession, actor_id: int | None, client: Client, data: ContactIn) -> Contact:
    contact = Contact(client_id=client.id, **await _clean_contact(session, data.model_dump()))
    session.add(contact)
    await session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        entity="contact",
        entity_id=contact.id,
        action="created",
        changes=audit.diff({}, {"client_id": client.id, **_fields(contact, CONTACT_FIELDS)}),
    )
    _announce_contact(session, actor_id, client, contact.id, "created")
    return contact


async def add_contact(session: AsyncSession, actor: Principal, client_id: int, data: ContactIn) -> ContactOut:
    client = await visible_client(session, actor, client_id)
    return ContactOut.model_validate(await _add_contact(session, actor.user_id, client, data))


async def _visible_contact(session: AsyncSession, actor: Principal, contact_id: int) -> tuple[Contact, Client]:
    contact = await session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        raise NotFound("No such contact.")
    try:
        client = await visible_client(session, actor, contact.client_id)
    except NotFound:
        raise NotFound("No such contact.") from None
    return contact, client


async def update_contact(session: AsyncSession, actor: Principal, contact_id: int, data: ContactUpdate) -> ContactOut:
    contact, client = await _visible_contact(session, actor, contact_id)
    check_version(contact, data.version)
    before = _fields(contact, CONTACT_FIELDS)
    for key, value in (await _clean_contact(session, data.model_dump(exclude_unset=True, exclude={"version"}))).items():
        setattr(contact, key, value)
    await session.flush()
    diff = audit.diff(before, _fields(contact, CONTACT_FIELDS))
    if diff:
        audit.record(
            session, actor_id=actor.user_id, entity="contact", entity_id=contact.id, action="updated", changes=diff
        )
        _announce_contact(session, actor.user_id, client, contact.id, "updated")
    return ContactOut.model_validate(contact)


async def delete_contact(session: AsyncSession, actor: Principal, contact_id: int) -> None:
    """Contacts may be removed (people leave companies); the audit row keeps what they were."""
    contact, client = await _visible_contact(session, actor, contact_id)
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="contact",
        entity_id=contact.id,
        action="deleted",
        changes=removed({"client_id": client.id, **_fields(contact, CONTACT_FIELDS)}),
    )
    _announce_contact(session, actor.user_id, client, contact.id, "deleted")
    await session.delete(contact)
