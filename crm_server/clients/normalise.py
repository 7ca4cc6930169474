"""Normal forms of what people type: VAT numbers, company names, phone numbers, emails, currencies.

One place for them, so that duplicates are found the same way whether a record comes from the
desktop, an import or a webhook."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_server.errors import ValidationFailed

_VAT_JUNK = re.compile(r"[\s.\-/]+")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")
_SPACES = re.compile(r"\s+")

# ISO 4217 active codes (2024). A typo like "EUO" is refused rather than stored.
CURRENCIES = frozenset(
    """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG
XOF XPF YER ZAR ZMW ZWG
""".split()
)


def vat_key(raw: str | None) -> str | None:
    """ "RO 123.456-78" and "12345678" are the same VAT number: strip separators, uppercase, drop a
    two-letter country prefix. None when nothing is left."""
    if not raw:
        return None
    key = _COUNTRY_PREFIX.sub("", _VAT_JUNK.sub("", raw).upper())
    return key or None


def name_key(name: str | None) -> str:
    """Company names compared case- and space-insensitively (the SQL twin is clients.name_key)."""
    return _SPACES.sub(" ", (name or "").strip()).lower()


def clean_text(value: str | None) -> str | None:
    """Trimmed text; empty becomes None so "no value" has one spelling."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def email(raw: str | None, field: str = "email") -> str | None:
    """A syntactically valid address (no DNS lookup: the desktop must work offline)."""
    raw = clean_text(raw)
    if raw is None:
        return None
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(f"This email address is not valid: {exc}", field=field, code="invalid_email") from None


def phone(raw: str | None, default_country: str, field: str = "phone") -> str | None:
    """E.164 ("+40722123456"); a number without a country prefix is read in `default_country`."""
    raw = clean_text(raw)
    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, (default_country or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            "This phone number is not valid; include the country code if it is abroad.",
            field=field,
            code="invalid_phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(raw: str, default_country: str) -> str | None:
    """For search: the E.164 form when the text reads as a phone number, else None."""
    try:
        return phone(raw, default_country)
    except ValidationFailed:
        return None


def currency(raw: str | None, field: str = "currency") -> str | None:
    raw = clean_text(raw)
    if raw is None:
        return None
    code = raw.upper()
    if code not in CURRENCIES:
        raise ValidationFailed(
            "Use a three-letter ISO 4217 currency code, such as EUR or RON.", field=field, code="invalid_currency"
        )
    return code


def tags(values: list[str] | None) -> list[str]:
    """Tags are trimmed, lower-cased, unique, in the order given."""
    seen: dict[str, None] = {}
    for value in values or []:
        tag = _SPACES.sub(" ", value.strip()).lower()
        if tag:
            if len(tag) > 50:
                raise ValidationFailed("A tag is at most 50 characters.", field="tags")
            seen.setdefault(tag, None)
    return list(seen)
