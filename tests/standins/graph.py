"""A stand-in for the Facebook Graph API on a loopback port, answering in Graph's documented format:
`GET /v19.0/{lead-id}` (a lead's field_data), `GET /v19.0/me` (the page the token belongs to), and
Graph's error bodies; the same through a batch request (`POST /v19.0/` with a form body holding
`batch=[{"method": "GET", "relative_url": ...}]`, `access_token`, `appsecret_proof`, as Graph's
"Securing requests" page shows), answered as a list of {"code", "body": "<JSON text>"}.

Like Graph, it takes the token from the query, the form body or `Authorization: Bearer`, and the
appsecret_proof from the query or the form body; with `app_secret` set ("Require App Secret" on),
a call without a right proof is refused. Every request line is kept in `urls` (a test can check that
no secret was in a URL). Switches: the token expires (error 190, HTTP 400), Graph has a hiccup
(HTTP 500, error 2, is_transient), Graph is down (the port refuses connections) and up again."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins import Listening
from tests.support import free_port

VERSION = "v19.0"


def _error(message: str, kind: str, code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, **extra, "fbtrace_id": secrets.token_urlsafe(8)}}


@dataclass
class GraphStandIn:
    token: str = "page-token-123"
    page_id: str = "123456789012345"
    page_name: str = "Acme Test Page"
    port: int = field(default_factory=free_port)
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    expired: bool = False
    hiccup: bool = False  # answer 500 with a transient error
    app_secret: str | None = None  # set: every call needs a right appsecret_proof
    # Each Graph call (a batch's each operation) as (path, the parameters it was made with, secrets too).
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # every request line as sent (method and URL)
    _listening: Listening | None = None

    @classmethod
    @contextmanager
    def run(cls, **kwargs: Any) -> Iterator[GraphStandIn]:
        graph = cls(**kwargs)
        graph.up()
        try:
            yield graph
        finally:
            graph.down()

    @property
    def url(self) -> str:
        """What goes into the facebook.graph_url setting."""
        return f"http://127.0.0.1:{self.port}/{VERSION}"

    def add_lead(
        self,
        leadgen_id: str,
        answers: dict[str, str | list[str]],
        *,
        form_id: str = "444444444444",
        ad_id: str = "555555555555",
        created_time: str = "2026-11-27T20:15:00+0000",
    ) -> dict[str, Any]:
        """A lead as Graph returns it (fields id, created_time, ad_id, form_id, field_data)."""
        lead = {
            "created_time": created_time,
            "id": leadgen_id,
            "ad_id": ad_id,
            "form_id": form_id,
            "field_data": [{"name": k, "values": v if isinstance(v, list) else [v]} for k, v in answers.items()],
        }
        self.leads[leadgen_id] = lead
        return lead

    # --- switches --------------------------------------------------------------------------------

    def up(self) -> None:
        if self._listening is None:
            self._listening = Listening(self.port, self._handler(), "graph-standin")
        self._listening.up()

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        if self._listening is not None:
            self._listening.down()

    # --- answers ---------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, query))
        if self.hiccup:
            return 500, _error(
                "An unexpected error has occurred. Please retry your request later.",
                "OAuthException",
                2,
                is_transient=True,
            )
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != VERSION:
            return 400, _error("Unknown path components: /" + "/".join(parts[1:]), "OAuthException", 2500)
        token = query.get("access_token")
        if self.app_secret is not None and token:
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            proof = query.get("appsecret_proof")
            if not proof:
                return 400, _error(
                    "API calls from the server require an appsecret_proof argument", "GraphMethodException", 100
                )
            if not hmac.compare_digest(proof, expected):
                return 400, _error("Invalid appsecret_proof provided in the API argument", "GraphMethodException", 100)
        if not token:
            return 400, _error(
                "An active access token must be used to query information about the current user.",
                "OAuthException",
                2500,
            )
        if token != self.token:
            return 400, _error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        if self.expired:
            return 400, _error(
                "Error validating access token: Session has expired on Friday, 27-Nov-26 "
                "12:00:00 PST. The current time is Friday, 27-Nov-26 13:00:00 PST.",
                "OAuthException",
                190,
                error_subcode=463,
            )
        node = parts[1]
        if node == "me":
            return 200, {"name": self.page_name, "id": self.page_id}
        if node in self.leads:
            return 200, self.leads[node]
        return 400, _error(
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation. Please read the "
            "Graph API documentation at https://developers.facebook.com/docs/graph-api",
            "GraphMethodException",
            100,
            error_subcode=33,
        )

    def batch(self, base: dict[str, str], operations: Any, include_headers: bool) -> tuple[int, Any]:
        """A batch request: each operation answered as its own call would be, in order."""
        if self.hiccup:
            return 500, _error(
                "An unexpected error has occurred. Please retry your request later.",
                "OAuthException",
                2,
                is_transient=True,
            )
        if not isinstance(operations, list) or not operations or len(operations) > 50:
            return 400, _error("The parameter batch is required and takes 1 to 50 operations", "OAuthException", 100)
        answers = []
        for op in operations:
            if (
                not isinstance(op, dict)
                or str(op.get("method", "GET")).upper() != "GET"
                or not isinstance(op.get("relative_url"), str)
            ):
                return 400, _error("Each batch operation needs a method and a relative_url", "OAuthException", 100)
            relative = urlsplit(op["relative_url"].lstrip("/"))
            path = relative.path if relative.path.startswith(VERSION + "/") else f"{VERSION}/{relative.path}"
            params = {**base, **{k: v[-1] for k, v in parse_qs(relative.query).items()}}
            status, body = self.answer(f"/{path}", params)
            one: dict[str, Any] = {"code": status, "body": json.dumps(body)}
            if include_headers:
                one["headers"] = [{"name": "Content-Type", "value": "application/json; charset=UTF-8"}]
            answers.append(one)
        return 200, answers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def _params(self, query: str, body: str = "") -> dict[str, str]:
                """Graph's parameters from the query, then the form body; the token from the
                Authorization header too ("Bearer <token>")."""
                params = {k: v[-1] for k, v in parse_qs(query).items()}
                params.update({k: v[-1] for k, v in parse_qs(body).items()})
                scheme, _, bearer = (self.headers.get("Authorization") or "").partition(" ")
                if scheme.lower() in ("bearer", "oauth") and bearer.strip():
                    params.setdefault("access_token", bearer.strip())
                return params

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # http.server calls it by this name
                graph.urls.append(f"GET {self.path}")
                url = urlsplit(self.path)
                self._send(*graph.answer(url.path, self._params(url.query)))

            def do_POST(self) -> None:
                graph.urls.append(f"POST {self.path}")
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                if "urlencoded" not in (self.headers.get("Content-Type") or "") and body:
                    self._send(400, _error("Send the parameters form-encoded", "OAuthException", 100))
                    return
                params = self._params(url.query, body)
                if url.path.rstrip("/") != f"/{VERSION}" or "batch" not in params:
                    self._send(400, _error("Unsupported post request.", "GraphMethodException", 100))
                    return
                try:
                    operations = json.loads(params.pop("batch"))
                except ValueError:
                    operations = None
                include_headers = params.pop("include_headers", "true") != "false"
                self._send(*graph.batch(params, operations, include_headers))

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        return Handler
