"""A stand-in for Stripe's REST API on a loopback port, answering as Stripe documents it: the secret key
as HTTP Basic user (or Bearer), form-encoded bodies with nested keys (`line_items[0][price_data][currency]`),
JSON objects with `object` and `id`, lists as {"object": "list", "data", "has_more", "url"}, and Stripe's
error body ({"error": {"type", "code", "message", "param"}}).

Speaks: POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}, GET /v1/invoices/{id},
GET /v1/invoice_payments (filtered by `invoice` or `payment[type]` + `payment[payment_intent]`).
`pay(session_id)` plays a customer paying a Checkout Session: the session completes and the
payment_intent.succeeded event Stripe would send is returned (its PaymentIntent carries
payment_intent_data's metadata, as Stripe copies it)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.standins import Listening
from tests.support import free_port


def nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form keys back into objects: a[b][0][c]=v -> {"a": {"b": [{"c": "v"}]}}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append({})
                if last:
                    node[index] = value
                else:
                    if not isinstance(node[index], (dict, list)) or node[index] == {}:
                        node[index] = [] if parts[i + 1].isdigit() else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if parts[i + 1].isdigit() else {})
    return root


@dataclass
class StripeStandIn:
    key: str = "sk_test_51StandInKey0000000000"
    port: int = field(default_factory=free_port)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_intent_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_payments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # method, path, params/body

    @classmethod
    @contextmanager
    def run(cls, **kwargs: Any) -> Iterator[StripeStandIn]:
        api = cls(**kwargs)
        listening = Listening(api.port, api._handler(), "stripe-standin")
        listening.up()
        try:
            yield api
        finally:
            listening.down()

    @property
    def url(self) -> str:
        """What goes into the stripe.api_url setting."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        return {"stripe.api_url": self.url, "stripe.secret_key": self.key}

    # --- what the test puts in Stripe -------------------------------------------------------------

    def put_invoice(self, invoice: dict[str, Any]) -> None:
        self.invoices[invoice["id"]] = invoice

    def put_invoice_payment(
        self, invoice_id: str, intent_id: str, amount: int, currency: str = "eur", paid_at: int | None = None
    ) -> dict[str, Any]:
        row = {
            "id": f"inpay_{secrets.token_hex(12)}",
            "object": "invoice_payment",
            "amount_paid": amount,
            "amount_requested": amount,
            "created": paid_at or int(time.time()),
            "currency": currency,
            "invoice": invoice_id,
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent_id},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": paid_at or int(time.time())},
        }
        self.invoice_payments.append(row)
        return row

    def pay(self, session_id: str, *, event_id: str | None = None) -> dict[str, Any]:
        """A customer pays the Checkout Session: the payment_intent.succeeded event Stripe sends."""
        cs = self.sessions[session_id]
        intent_id = f"pi_{secrets.token_hex(12)}"
        cs.update(status="complete", payment_status="paid", payment_intent=intent_id)
        data = self.session_intent_data.get(session_id, {})
        now = int(time.time())
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": cs["amount_total"],
            "amount_received": cs["amount_total"],
            "currency": cs["currency"],
            "customer": cs["customer"],
            "description": data.get("description"),
            "latest_charge": f"ch_{secrets.token_hex(12)}",
            "livemode": False,
            "metadata": data.get("metadata", {}),
            "status": "succeeded",
            "created": now,
        }
        return {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-10-29.clover",
            "created": now,
            "data": {"object": intent},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "payment_intent.succeeded",
        }

    # --- the API -----------------------------------------------------------------------------------

    def _authorised(self, header: str | None) -> bool:
        basic = "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()
        return header in (basic, f"Bearer {self.key}")

    def _create_session(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("mode") not in ("payment", "setup", "subscription"):
            return 400, _error("Missing required param: mode.", "mode")
        items = body.get("line_items")
        if not isinstance(items, list) or not items:
            return 400, _error("You must provide at least one of `line_items` or ...", "line_items")
        total, currency = 0, None
        for i, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            unit = str(price.get("unit_amount", "")) if isinstance(price, dict) else ""
            if not isinstance(price, dict) or not price.get("currency") or not unit.isdigit():
                return 400, _error("Missing required param: line_items[0][price_data].", f"line_items[{i}][price_data]")
            if not isinstance(price.get("product_data"), dict) or not price["product_data"].get("name"):
                return 400, _error(
                    "Missing required param: line_items[0][price_data][product_data][name].",
                    f"line_items[{i}][price_data][product_data][name]",
                )
            total += int(price["unit_amount"]) * int(item.get("quantity", "1"))
            currency = price["currency"]
        session_id = f"cs_test_{secrets.token_hex(24)}"
        now = int(time.time())
        cs = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": body.get("cancel_url"),
            "client_reference_id": body.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": body.get("customer"),
            "customer_email": body.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "invoice": None,
            "livemode": False,
            "metadata": body.get("metadata", {}),
            "mode": body["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": body.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        }
        self.sessions[session_id] = cs
        self.session_intent_data[session_id] = body.get("payment_intent_data", {})
        return 200, cs

    def _list(self, path: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"object": "list", "data": rows, "has_more": False, "url": path}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet tests
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                if not api._authorised(self.headers.get("Authorization")):
                    self._answer(
                        401,
                        {
                            "error": {
                                "message": "Invalid API Key provided: sk_test_****",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                query = nested(parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                body = nested(parse_qsl(self.rfile.read(length).decode())) if length else {}
                api.requests.append((method, url.path, body if method == "POST" else query))
                parts = url.path.strip("/").split("/")
                if method == "POST" and url.path == "/v1/checkout/sessions":
                    self._answer(*api._create_session(body))
                elif method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
                    found = api.sessions.get(parts[3])
                    self._answer(*((200, found) if found else (404, _missing("checkout.session", parts[3]))))
                elif method == "GET" and parts[:2] == ["v1", "invoices"] and len(parts) == 3:
                    found = api.invoices.get(parts[2])
                    self._answer(*((200, found) if found else (404, _missing("invoice", parts[2]))))
                elif method == "GET" and url.path == "/v1/invoice_payments":
                    rows = api.invoice_payments
                    if "invoice" in query:
                        rows = [r for r in rows if r["invoice"] == query["invoice"]]
                    payment = query.get("payment")
                    if isinstance(payment, dict):
                        rows = [
                            r
                            for r in rows
                            if r["payment"].get("type") == payment.get("type")
                            and r["payment"].get(payment.get("type", "")) == payment.get(payment.get("type", ""))
                        ]
                    self._answer(200, api._list(url.path, rows[: int(query.get("limit", "10"))]))
                else:
                    self._answer(
                        404,
                        {
                            "error": {
                                "message": f"Unrecognized request URL ({method}: {url.path}).",
                                "type": "invalid_request_error",
                            }
                        },
                    )

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

        return Handler


def _error(message: str, param: str) -> dict[str, Any]:
    return {"error": {"code": "parameter_missing", "message": message, "param": param, "type": "invalid_request_error"}}


def _missing(kind: str, object_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "resource_missing",
            "message": f"No such {kind}: '{object_id}'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }
