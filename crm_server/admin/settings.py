"""The settings admins change at run time, with their types and defaults in one table here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from crm_server.admin.models import Setting
from crm_server.db import utcnow
from crm_server.errors import ValidationFailed


@dataclass(frozen=True)
class Definition:
    type: type
    default: Any
    label: str
    secret: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None  # a text value must match it whole (empty is always allowed)
    pattern_words: str = ""  # what the pattern asks for, in words


# A DNS name (a domain or a DKIM selector): letters, digits, hyphens, dots.
DNS_NAME = r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
DNS_WORDS = "a DNS name (letters, digits, hyphens and dots)"

DEFINITIONS: dict[str, Definition] = {
    "company.name": Definition(str, "My Company", "Company name"),
    "company.address": Definition(str, "", "Address"),
    "company.vat_number": Definition(str, "", "VAT number"),
    "company.email": Definition(str, "", "Email"),
    "company.phone": Definition(str, "", "Phone"),
    "company.logo_png": Definition(str, "", "Logo (PNG, base64)"),
    "company.default_country": Definition(str, "RO", "Default phone country (ISO code)"),
    "smtp.host": Definition(str, "", "SMTP host"),
    "smtp.port": Definition(int, 587, "SMTP port", minimum=1, maximum=65535),
    "smtp.security": Definition(str, "starttls", "SMTP security", choices=("none", "starttls", "tls")),
    "smtp.user": Definition(str, "", "SMTP user"),
    "smtp.password": Definition(str, "", "SMTP password", secret=True),
    "smtp.sender": Definition(str, "crm@localhost", "Sender address"),
    "security.session_idle_minutes": Definition(int, 30, "Session idle timeout (minutes)", minimum=5, maximum=720),
    "security.password_min_length": Definition(int, 12, "Minimum password length", minimum=12, maximum=64),
    "security.require_2fa_for_all": Definition(bool, False, "Require 2FA for everyone"),
    "app.public_url": Definition(str, "", "How users reach this server (for links in emails)"),
    "email_pipe.token": Definition(
        str, "", "Inbound email webhook token (X-CRM-Token; empty: webhook off)", secret=True
    ),
    "email_pipe.registered_only": Definition(bool, False, "Only registered contacts and clients may open tickets"),
    "email_pipe.replies_only": Definition(bool, False, "Only replies to existing tickets are accepted by email"),
    "email_pipe.max_per_window": Definition(
        int, 10, "Most tickets and replies by email from one address", minimum=1, maximum=10000
    ),
    "email_pipe.window_minutes": Definition(int, 15, "Window of that limit (minutes)", minimum=1, maximum=1440),
    "leads.default_currency": Definition(str, "EUR", "Default currency of lead values (ISO 4217)"),
    "exports.keep_days": Definition(int, 7, "Days an export's file is kept for download", minimum=1, maximum=365),
    "imports.keep_days": Definition(
        int, 30, "Days an import's uploaded file is kept (its error report needs it)", minimum=1, maximum=3650
    ),
    "webhooks.allowed_private": Definition(
        str, "", "Private or loopback addresses outgoing webhooks may call (comma-separated host or host:port)"
    ),
    "leads.default_team_id": Definition(int, 0, "Team that shares new leads no rule matches (0: none)", minimum=0),
    "sales.base_currency": Definition(str, "EUR", "Base currency of products and documents (ISO 4217)"),
    "sales.tax_rounding": Definition(
        str, "line", "Round VAT per line or once per document and rate", choices=("line", "document")
    ),
    "invoices.payment_terms_days": Definition(int, 14, "Payment terms of new invoices (days)", minimum=0, maximum=365),
    "invoices.number_format": Definition(str, "INV-{year}-{seq:06d}", "Invoice number format"),
    "invoices.credit_note_format": Definition(str, "CN-{year}-{seq:06d}", "Credit note number format"),
    "invoices.recurring_hour": Definition(
        int, 6, "Hour recurring invoices are made (server time)", minimum=0, maximum=23
    ),
    "invoices.recurring_send": Definition(bool, False, "Email recurring invoices when made"),
    "emails.daily_limit": Definition(
        int, 500, "Most e-mails sent from records per day (the SMTP provider's limit)", minimum=0, maximum=1_000_000
    ),
    # E-mail deliverability (crm_server/emails/bounces.py, dkim_keys.py)
    "emails.soft_bounce_limit": Definition(
        int, 3, "Soft bounces of one address before it is suppressed", minimum=1, maximum=100
    ),
    "emails.soft_bounce_days": Definition(int, 7, "Window of those soft bounces (days)", minimum=1, maximum=365),
    "emails.spf_include": Definition(
        str,
        "",
        "SPF include of the company's mail provider (e.g. _spf.google.com)",
        pattern=r"_?" + DNS_NAME,
        pattern_words=DNS_WORDS,
    ),
    "dkim.enabled": Definition(bool, False, "Sign outgoing e-mail with DKIM"),
    "dkim.domain": Definition(
        str, "", "DKIM signing domain (empty: the sender address's domain)", pattern=DNS_NAME, pattern_words=DNS_WORDS
    ),
    "dkim.selector": Definition(str, "crm", "DKIM selector", pattern=DNS_NAME, pattern_words=DNS_WORDS),
    "dkim.private_key": Definition(str, "", "DKIM private key (PEM; generated on the DNS page)", secret=True),
    "invoices.recurring_only_paid": Definition(bool, False, "Recur only from paid invoices"),
    "stock.invoice_warehouse_id": Definition(
        int, 0, "Warehouse issued invoices reserve stock in (0: the first active one)", minimum=0
    ),
    "stock.allow_negative": Definition(bool, False, "Allow deliveries and reservations beyond the available stock"),
    "tickets.sla_critical_hours": Definition(
        int, 1, "First response for critical tickets (business hours)", minimum=1, maximum=200
    ),
    "tickets.sla_high_hours": Definition(
        int, 2, "First response for high tickets (business hours)", minimum=1, maximum=200
    ),
    "tickets.sla_normal_hours": Definition(
        int, 8, "First response for normal tickets (business hours)", minimum=1, maximum=200
    ),
    "tickets.business_hours": Definition(str, "09:00-17:00", "Support business hours (HH:MM-HH:MM)"),
    "tickets.business_days": Definition(str, "1-5", "Support business days (1 = Monday ... 7 = Sunday)"),
    "tickets.time_zone": Definition(str, "Europe/Bucharest", "Time zone of the support business hours"),
    "tickets.archive_after_days": Definition(
        int, 30, "Archive tickets closed this many days ago", minimum=1, maximum=3650
    ),
    # Facebook Lead Ads (crm_server/integrations/facebook.py)
    "facebook.app_secret": Definition(str, "", "Facebook app secret (signs webhooks)", secret=True),
    "facebook.verify_token": Definition(str, "", "Facebook webhook verify token", secret=True),
    "facebook.page_token": Definition(str, "", "Facebook page access token (reads leads)", secret=True),
    "facebook.graph_url": Definition(str, "https://graph.facebook.com/v19.0", "Facebook Graph API base URL"),
    # WhatsApp Business Cloud API (crm_server/integrations/whatsapp.py, crm_server/whatsapp/)
    "whatsapp.phone_number_id": Definition(str, "", "WhatsApp phone number id (sends messages)"),
    "whatsapp.business_account_id": Definition(str, "", "WhatsApp Business account id (lists templates)"),
    "whatsapp.access_token": Definition(str, "", "WhatsApp Cloud API access token", secret=True),
    "whatsapp.app_secret": Definition(str, "", "WhatsApp app secret (signs webhooks)", secret=True),
    "whatsapp.verify_token": Definition(str, "", "WhatsApp webhook verify token", secret=True),
    "whatsapp.api_url": Definition(str, "https://graph.facebook.com/v19.0", "WhatsApp Cloud API base URL"),
    # WooCommerce (crm_server/integrations/woocommerce.py, crm_server/orders/)
    "woocommerce.store_url": Definition(str, "", "WooCommerce store URL (https://shop.example.com)"),
    "woocommerce.consumer_key": Definition(str, "", "WooCommerce REST API consumer key (ck_…)"),
    "woocommerce.consumer_secret": Definition(str, "", "WooCommerce REST API consumer secret (cs_…)", secret=True),
    "woocommerce.webhook_secret": Definition(str, "", "WooCommerce webhook secret (signs webhooks)", secret=True),
    "woocommerce.reconcile_hours": Definition(
        int, 48, "Orders changed in the last hours the reconciliation reads from the store", minimum=1, maximum=2160
    ),
    # Stripe (crm_server/integrations/stripe.py)
    "stripe.endpoint_secret": Definition(str, "", "Stripe webhook signing secret (whsec_…)", secret=True),
    "stripe.secret_key": Definition(
        str, "", "Stripe secret API key (sk_… or rk_…: Pay online links, invoice payments)", secret=True
    ),
    "stripe.api_url": Definition(str, "https://api.stripe.com", "Stripe API base URL"),
    "stripe.success_url": Definition(str, "", "Page a client sees after paying online (empty: Stripe's own)"),
    # Website forms (crm_server/webforms/, crm_server/integrations/forms.py)
    "forms.max_per_window": Definition(int, 10, "Most website form posts from one address", minimum=1, maximum=10000),
    "forms.window_minutes": Definition(int, 10, "Window of that limit (minutes)", minimum=1, maximum=1440),
    # Partners and their portal (crm_server/partners/, crm_server/portal/)
    "partners.protection_days": Definition(
        int, 90, "Days a partner's registered lead stays protected without progress", minimum=1, maximum=3650
    ),
    "partners.invitation_days": Definition(
        int, 7, "Days a partner user's invitation link works", minimum=1, maximum=60
    ),
    "partners.submissions_per_hour": Definition(
        int, 30, "Most leads one partner user may send an hour", minimum=1, maximum=10000
    ),
    # Commissions (crm_server/commissions/partner_reports.py): weekly on Mondays, monthly on the 1st
    "commissions.partner_report": Definition(
        str, "off", "E-mail each partner their commission report", choices=("off", "weekly", "monthly")
    ),
    # Backups (crm_server/backups/): the passphrase is not a setting (CRM_BACKUP_PASSPHRASE in the environment)
    "backup.enabled": Definition(bool, True, "Back up the database every night"),
    "backup.folder": Definition(
        str, "", "Backup folder (a local path or a mounted share; empty: 'backups' in the data folder)"
    ),
    "backup.hour": Definition(int, 2, "Hour of the nightly backup (server time)", minimum=0, maximum=23),
    "backup.keep_daily": Definition(int, 7, "Daily backups kept", minimum=1, maximum=365),
    "backup.keep_weekly": Definition(int, 4, "Weekly backups kept", minimum=0, maximum=520),
    "backup.keep_monthly": Definition(int, 6, "Monthly backups kept", minimum=0, maximum=240),
    # Every webhook door (crm_server/integrations/inbox.py): refusals kept per address, then 429
    "integrations.max_rejects_per_hour": Definition(
        int,
        60,
        "Most refused webhook requests kept from one address per hour (more get 429)",
        minimum=1,
        maximum=100000,
    ),
}


def coerce(key: str, value: Any) -> Any:
    definition = DEFINITIONS.get(key)
    if definition is None:
        raise ValidationFailed(f"Unknown setting {key!r}", field=key, code="unknown_setting")
    try:
        if definition.type is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(value)
            value = value.lower() in ("true", "1", "yes", "on")
        else:
            value = definition.type(value)
    except (TypeError, ValueError):
        kind = {int: "a whole number", bool: "true or false"}.get(definition.type, "text")
        raise ValidationFailed(f"{definition.label} must be {kind}", field=key) from None
    if definition.minimum is not None and value < definition.minimum:
        raise ValidationFailed(f"{definition.label} must be at least {definition.minimum}", field=key)
    if definition.maximum is not None and value > definition.maximum:
        raise ValidationFailed(f"{definition.label} must be at most {definition.maximum}", field=key)
    if definition.pattern and value and not re.fullmatch(definition.pattern, value):
        raise ValidationFailed(f"{definition.label} must be {definition.pattern_words}", field=key)
    if definition.choices and value not in definition.choices:
        raise ValidationFailed(f"{definition.label} must be one of {', '.join(definition.choices)}", field=key)
    return value


CACHE = "settings"  # session.info key: the stored settings, read once per transaction


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """Another transaction may see other values: the cache lives as long as the transaction."""
    if transaction.parent is None:
        session.info.pop(CACHE, None)


async def _stored(session: AsyncSession) -> dict[str, Any]:
    """One small query per transaction instead of one per setting read (a lead save reads four)."""
    cached: dict[str, Any] | None = session.info.get(CACHE)
    if cached is None:
        cached = dict((await session.execute(select(Setting.key, Setting.value))).all())
        session.info[CACHE] = cached
    return cached


# The whole table as one JSON object, for a query every request runs anyway to carry (the sign-in
# check does): the settings then cost no round trip of their own.
ALL = type_coerce(
    select(func.coalesce(func.jsonb_object_agg(Setting.key, Setting.value), text("'{}'::jsonb"))).scalar_subquery(),
    JSONB,
)


def prime(session: AsyncSession, stored: dict[str, Any]) -> None:
    """The settings as read by another query of this transaction (see ALL)."""
    session.info.setdefault(CACHE, stored)


async def get_all(session: AsyncSession) -> dict[str, Any]:
    stored = await _stored(session)
    return {key: stored.get(key, d.default) for key, d in DEFINITIONS.items()}


async def get(session: AsyncSession, key: str) -> Any:
    if key not in DEFINITIONS:
        raise ValidationFailed(f"Unknown setting {key!r}", field=key, code="unknown_setting")
    value = (await _stored(session)).get(key)
    return DEFINITIONS[key].default if value is None else value


async def put(session: AsyncSession, key: str, value: Any, actor_id: int | None) -> tuple[Any, Any]:
    """Store one setting; returns (old, new) for the audit row."""
    new = coerce(key, value)
    old = await get(session, key)
    stmt = insert(Setting).values(key=key, value=new, updated_by=actor_id, updated_at=utcnow())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Setting.key], set_={"value": new, "updated_by": actor_id, "updated_at": utcnow()}
        )
    )
    (await _stored(session))[key] = new
    return old, new


def public_view(values: dict[str, Any]) -> dict[str, Any]:
    """Secrets are write-only: reads say whether one is set, never what it is."""
    return {k: (bool(v) if DEFINITIONS[k].secret else v) for k, v in values.items()}
