"""Matching a file's columns to an entity's fields by header: case, accents, spaces and punctuation
do not count, and common synonyms ("E-mail", "Email address", "Full Name", "Company Name", "Phone
Number") find their field. A mapping people confirmed is remembered per entity and set of headers."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from crm_server.contract.imports import TemplateField

_NOT_WORD = re.compile(r"[^a-z0-9]+")

# Normalised header -> field name, per entity (the field's own name and label match anyway).
SYNONYMS: dict[str, dict[str, str]] = {
    "leads": {
        "name": "person_name",
        "fullname": "person_name",
        "contactname": "person_name",
        "contact": "person_name",
        "person": "person_name",
        "personname": "person_name",
        "leadname": "person_name",
        "firstandlastname": "person_name",
        "companyname": "company",
        "company": "company",
        "organisation": "company",
        "organization": "company",
        "account": "company",
        "accountname": "company",
        "firm": "company",
        "email": "email",
        "emailaddress": "email",
        "mail": "email",
        "emailadress": "email",
        "phone": "phone",
        "phonenumber": "phone",
        "telephone": "phone",
        "tel": "phone",
        "mobile": "phone",
        "mobilephone": "phone",
        "mobilenumber": "phone",
        "leadsource": "source",
        "source": "source",
        "channel": "source",
        "status": "status",
        "stage": "status",
        "leadstatus": "status",
        "owner": "owner",
        "owneremail": "owner",
        "assignedto": "owner",
        "salesperson": "owner",
        "value": "value",
        "amount": "value",
        "dealvalue": "value",
        "estimatedvalue": "value",
        "currency": "currency",
        "expectedclosedate": "expected_close_date",
        "closedate": "expected_close_date",
        "expectedclose": "expected_close_date",
        "territory": "territory",
        "region": "territory",
        "productinterest": "product_interest",
        "interestedin": "product_interest",
        "product": "product_interest",
        "tags": "tags",
        "labels": "tags",
    },
    "clients": {
        "companyname": "name",
        "company": "name",
        "clientname": "name",
        "client": "name",
        "name": "name",
        "organisation": "name",
        "organization": "name",
        "vat": "vat_number",
        "vatnumber": "vat_number",
        "vatid": "vat_number",
        "vatno": "vat_number",
        "taxid": "vat_number",
        "cui": "vat_number",
        "cif": "vat_number",
        "email": "email",
        "emailaddress": "email",
        "companyemail": "email",
        "phone": "phone",
        "phonenumber": "phone",
        "telephone": "phone",
        "companyphone": "phone",
        "address": "address",
        "website": "website",
        "web": "website",
        "url": "website",
        "owner": "owner",
        "owneremail": "owner",
        "accountmanager": "owner",
        "contactname": "contact_name",
        "contactperson": "contact_name",
        "fullname": "contact_name",
        "contact": "contact_name",
        "contactemail": "contact_email",
        "contactemailaddress": "contact_email",
        "contactphone": "contact_phone",
        "contactphonenumber": "contact_phone",
        "contactmobile": "contact_phone",
        "position": "contact_position",
        "jobtitle": "contact_position",
        "title": "contact_position",
        "contactposition": "contact_position",
    },
    "contacts": {
        "name": "name",
        "fullname": "name",
        "contactname": "name",
        "person": "name",
        "email": "email",
        "emailaddress": "email",
        "phone": "phone",
        "phonenumber": "phone",
        "mobile": "phone",
        "telephone": "phone",
        "position": "position",
        "jobtitle": "position",
        "title": "position",
        "role": "position",
        "client": "client",
        "company": "client",
        "companyname": "client",
        "clientname": "client",
        "account": "client",
        "clientvat": "client",
        "vatnumber": "client",
    },
    "products": {
        "sku": "sku",
        "code": "sku",
        "productcode": "sku",
        "itemcode": "sku",
        "reference": "sku",
        "name": "name",
        "productname": "name",
        "product": "name",
        "itemname": "name",
        "description": "description",
        "unit": "unit",
        "uom": "unit",
        "unitofmeasure": "unit",
        "price": "unit_price",
        "unitprice": "unit_price",
        "saleprice": "unit_price",
        "listprice": "unit_price",
        "currency": "currency",
        "vat": "vat_rate",
        "vatrate": "vat_rate",
        "tax": "vat_rate",
        "taxrate": "vat_rate",
        "tracked": "stock_tracked",
        "stocktracked": "stock_tracked",
        "trackstock": "stock_tracked",
    },
}


def key(header: str) -> str:
    """ "E-mail Address " -> "emailaddress"; "Téléphone" -> "telephone"."""
    plain = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode("ascii")
    return _NOT_WORD.sub("", plain.casefold())


def suggest(entity: str, headers: list[str], fields: list[TemplateField]) -> dict[str, str | None]:
    """Header -> field (None: skip). A field already taken by an earlier column is not offered again
    (the person may still map both and say which wins)."""
    by_key: dict[str, str] = {}
    for f in fields:
        by_key.setdefault(key(f.label), f.name)
        by_key.setdefault(key(f.name), f.name)
    for syn, name in SYNONYMS.get(entity, {}).items():
        if any(f.name == name for f in fields):
            by_key.setdefault(syn, name)
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for header in headers:
        found: str | None = by_key.get(key(header))
        if found is None:
            base = re.sub(r"\s*\(\d+\)$", "", header)  # "Phone (2)": a repeat of "Phone"
            found = by_key.get(key(base)) if base != header else None
        if found in taken:
            found = None
        out[header] = found
        if found is not None:
            taken.add(found)
    return out


def headers_hash(headers: list[str]) -> str:
    return hashlib.sha256(json.dumps([key(h) for h in headers]).encode()).hexdigest()
