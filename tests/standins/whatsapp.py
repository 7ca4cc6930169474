"""A stand-in for the WhatsApp Business Cloud API (Meta's Graph API) on a loopback port, in its
documented formats:

- `GET /v19.0/{phone-number-id}[?fields=...]`: the number (verified_name, display_phone_number,
  quality_rating, messaging_limit_tier; only the fields asked for when `fields` is given).
- `POST /v19.0/{waba-id}/message_templates` {"name", "language", "category", "components"}: a new
  template, PENDING: {"id", "status", "category"}; a name already used in that language is Graph's
  error 100 (subcode 2388024). `POST /v19.0/{template-id}` {"components"}: an edit, PENDING again:
  {"success": true}. `review()` decides one and gives the template status webhook Meta would send.
- `GET /v19.0/{waba-id}/message_templates`: {"data": [{"name", "language", "status", "category",
  "id", "components": [{"type": "BODY", "text"}]}], "paging": {"cursors": {"before", "after"}}}.
- `POST /v19.0/{phone-number-id}/messages` with {"messaging_product": "whatsapp", "to", "type":
  "text"|"template", ...}: {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
  "messages": [{"id": "wamid...."}]}.
- Graph's error body {"error": {"message", "type", "code", "fbtrace_id"}}; a wrong token is 190.

And the webhooks Meta sends (`status_webhook`, `inbound_webhook`, `template_webhook`), signed with
X-Hub-Signature-256 by `signed`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins import Listening
from tests.support import free_port

VERSION = "v19.0"


def _error(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(8)}}


def wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(24)).decode().rstrip("=")


@dataclass
class CloudApiStandIn:
    token: str = "EAAG-test-token"
    phone_number_id: str = "106540352242922"
    waba_id: str = "102290129340398"
    display_phone_number: str = "15550783881"
    port: int = field(default_factory=free_port)
    templates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # each POSTed message body, as sent
    submitted: list[dict[str, Any]] = field(default_factory=list)  # each template create/edit body
    quality_rating: str = "GREEN"
    messaging_limit_tier: str = "TIER_1K"
    _listening: Listening | None = None

    @classmethod
    @contextmanager
    def run(cls, **kwargs: Any) -> Iterator[CloudApiStandIn]:
        api = cls(**kwargs)
        api._listening = Listening(api.port, api._handler(), "whatsapp-standin")
        api._listening.up()
        try:
            yield api
        finally:
            api._listening.down()

    @property
    def url(self) -> str:
        """What goes into the whatsapp.api_url setting."""
        return f"http://127.0.0.1:{self.port}/{VERSION}"

    def add_template(self, name: str, status: str, body: str, *, language: str = "en_US", **extra: Any) -> None:
        self.templates.append(
            {
                "name": name,
                "components": [{"type": "BODY", "text": body}],
                "language": language,
                "status": status,
                "category": "MARKETING",
                "id": str(len(self.templates) + 1_000_000_000),
                **extra,
            }
        )

    def review(self, name: str, event: str, *, reason: str = "NONE", language: str = "en_US") -> bytes:
        """Meta's review of a submitted template: its new status, and the webhook that says so."""
        template = next(t for t in self.templates if t["name"] == name and t["language"] == language)
        template["status"] = event
        template["rejected_reason"] = reason if event == "REJECTED" else "NONE"
        return self.template_webhook(name, event, language=language, reason=reason, template_id=int(template["id"]))

    def _template_write(self, rest: list[str], body: Any) -> tuple[int, dict[str, Any]] | None:
        if not isinstance(body, dict):
            return None
        if rest == [self.waba_id, "message_templates"]:
            name, language, category = body.get("name"), body.get("language"), body.get("category")
            parts = body.get("components")
            if not name or not language or category not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
                return 400, _error("(#100) Invalid parameter", "OAuthException", 100)
            if not isinstance(parts, list) or not any(p.get("type") == "BODY" for p in parts):
                return 400, _error("(#100) Invalid parameter: a BODY component is required", "OAuthException", 100)
            if any(t["name"] == name and t["language"] == language for t in self.templates):
                error = _error("Content in this language already exists", "OAuthException", 100)
                error["error"]["error_subcode"] = 2388024
                return 400, error
            self.submitted.append(body)
            template_id = str(len(self.templates) + 1_000_000_000)
            self.templates.append({**body, "status": "PENDING", "id": template_id})
            return 200, {"id": template_id, "status": "PENDING", "category": category}
        known = [t for t in self.templates if len(rest) == 1 and t["id"] == rest[0]]
        if known and ("components" in body) != ("category" in body):  # one or the other per call
            if "category" in body and known[0]["status"] == "APPROVED":
                return 400, _error(
                    "(#100) The category of an approved template cannot be edited", "OAuthException", 100
                )
            self.submitted.append({"id": rest[0], **body})
            known[0].update({**body, "status": "PENDING", "rejected_reason": "NONE"})
            return 200, {"success": True}
        if known:
            return 400, _error("(#100) Edit the category and the components in separate calls", "OAuthException", 100)
        return None

    def answer(self, method: str, path: str, token: str, body: Any) -> tuple[int, dict[str, Any]]:
        split = urlsplit(path)
        path, query = split.path, parse_qs(split.query)
        if token != self.token:
            return 401, _error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        parts = path.strip("/").split("/")
        if parts[:1] != [VERSION]:
            return 400, _error("Unknown path components", "OAuthException", 2500)
        rest = parts[1:]
        if method == "GET" and rest == [self.phone_number_id]:
            number = {
                "verified_name": "Acme Test",
                "code_verification_status": "VERIFIED",
                "display_phone_number": self.display_phone_number,
                "quality_rating": self.quality_rating,
                "messaging_limit_tier": self.messaging_limit_tier,
            }
            asked = [f for f in ",".join(query.get("fields", [])).split(",") if f]
            if asked:
                number = {k: v for k, v in number.items() if k in asked}
            return 200, {**number, "id": self.phone_number_id}
        if method == "POST" and (written := self._template_write(rest, body)) is not None:
            return written
        if method == "GET" and rest == [self.waba_id, "message_templates"]:
            return 200, {"data": self.templates, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}
        if method == "POST" and rest == [self.phone_number_id, "messages"]:
            if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp" or not body.get("to"):
                return 400, _error("(#100) The parameter messaging_product is required.", "OAuthException", 100)
            kind = body.get("type", "text")
            if kind == "template":
                template = body.get("template") or {}
                code = (template.get("language") or {}).get("code")
                known = [t for t in self.templates if t["name"] == template.get("name") and t["language"] == code]
                if not known or known[0]["status"] != "APPROVED":
                    return 404, _error(
                        "(#132001) Template name does not exist in the translation", "OAuthException", 132001
                    )
            elif kind != "text" or not (body.get("text") or {}).get("body"):
                return 400, _error("(#100) Invalid parameter", "OAuthException", 100)
            self.sent.append(body)
            to = str(body["to"])
            return 200, {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": wamid()}],
            }
        return 400, _error("Unsupported request", "GraphMethodException", 100)

    # --- webhooks Meta sends -----------------------------------------------------------------------

    def _envelope(self, value: dict[str, Any], field_name: str = "messages") -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": field_name}]}],
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_phone_number, "phone_number_id": self.phone_number_id},
        }

    def status_webhook(self, message_id: str, status: str, recipient: str, error_code: int | None = None) -> bytes:
        one: dict[str, Any] = {
            "id": message_id,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": recipient.lstrip("+"),
        }
        if status != "read":
            one["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "marketing"}}
            one["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "marketing"}
        if error_code is not None:
            one["errors"] = [
                {
                    "code": error_code,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed."},
                }
            ]
        return json.dumps(self._envelope({**self._metadata(), "statuses": [one]})).encode()

    def inbound_webhook(
        self, sender: str, text: str, *, name: str = "Kerry Fisher", timestamp: int | None = None
    ) -> bytes:
        """`timestamp`: Meta's, in whole seconds since the epoch (now unless given)."""
        digits = sender.lstrip("+")
        value = {
            **self._metadata(),
            "contacts": [{"profile": {"name": name}, "wa_id": digits}],
            "messages": [
                {
                    "from": digits,
                    "id": wamid(),
                    "timestamp": str(int(time.time()) if timestamp is None else timestamp),
                    "text": {"body": text},
                    "type": "text",
                }
            ],
        }
        return json.dumps(self._envelope(value)).encode()

    def template_webhook(
        self,
        name: str,
        event: str,
        *,
        language: str = "en_US",
        reason: str = "NONE",
        template_id: int = 12345678,
        other_info: dict[str, str] | None = None,
    ) -> bytes:
        value: dict[str, Any] = {
            "event": event,
            "message_template_id": template_id,
            "message_template_name": name,
            "message_template_language": language,
            "reason": reason,
        }
        if other_info is not None:  # a pause or unpause: {"title": "FIRST_PAUSE", "description": ...}
            value["other_info"] = other_info
        return json.dumps(self._envelope(value, "message_template_status_update")).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _token(self) -> str:
                scheme, _, bearer = (self.headers.get("Authorization") or "").partition(" ")
                return bearer.strip() if scheme.lower() == "bearer" else ""

            def do_GET(self) -> None:  # http.server calls it by this name
                self._send(*api.answer("GET", self.path, self._token(), None))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    body = None
                self._send(*api.answer("POST", self.path, self._token(), body))

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        return Handler


def signed(secret: str, body: bytes) -> dict[str, str]:
    """The headers Meta sends with a webhook: X-Hub-Signature-256 = HMAC-SHA256(app secret, raw body)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
