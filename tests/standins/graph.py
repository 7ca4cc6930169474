"""A stand-in for the Facebook Graph API on a loopback port, answering in Graph's documented format:
`GET /v19.0/{lead-id}` (a lead's field_data), `GET /v19.0/me` (the page the token belongs to), and
Graph's error bodies. Switches: the token expires (error 190, HTTP 400), Graph has a hiccup
(HTTP 500, error 2, is_transient), Graph is down (the port refuses connections) and up again."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import free_port

VERSION = "v19.0"


def _error(message: str, kind: str, code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, **extra,
                      "fbtrace_id": secrets.token_urlsafe(8)}}


@dataclass
class GraphStandIn:
    token: str = "page-token-123"
    page_id: str = "123456789012345"
    page_name: str = "Acme Test Page"
    port: int = field(default_factory=free_port)
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    expired: bool = False
    hiccup: bool = False  # answer 500 with a transient error
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

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

    def add_lead(self, leadgen_id: str, answers: dict[str, str | list[str]], *, form_id: str = "444444444444",
                 ad_id: str = "555555555555", created_time: str = "2026-11-27T20:15:00+0000") -> dict[str, Any]:
        """A lead as Graph returns it (fields id, created_time, ad_id, form_id, field_data)."""
        lead = {"created_time": created_time, "id": leadgen_id, "ad_id": ad_id, "form_id": form_id,
                "field_data": [{"name": k, "values": v if isinstance(v, list) else [v]} for k, v in answers.items()]}
        self.leads[leadgen_id] = lead
        return lead

    # --- switches --------------------------------------------------------------------------------

    def up(self) -> None:
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="graph-standin")
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    # --- answers ---------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, query))
        if self.hiccup:
            return 500, _error("An unexpected error has occurred. Please retry your request later.",
                               "OAuthException", 2, is_transient=True)
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != VERSION:
            return 400, _error("Unknown path components: /" + "/".join(parts[1:]), "OAuthException", 2500)
        token = query.get("access_token")
        if not token:
            return 400, _error("An active access token must be used to query information about the current user.",
                               "OAuthException", 2500)
        if token != self.token:
            return 400, _error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        if self.expired:
            return 400, _error("Error validating access token: Session has expired on Friday, 27-Nov-26 "
                               "12:00:00 PST. The current time is Friday, 27-Nov-26 13:00:00 PST.",
                               "OAuthException", 190, error_subcode=463)
        node = parts[1]
        if node == "me":
            return 200, {"name": self.page_name, "id": self.page_id}
        if node in self.leads:
            return 200, self.leads[node]
        return 400, _error(f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
                           "due to missing permissions, or does not support this operation. Please read the "
                           "Graph API documentation at https://developers.facebook.com/docs/graph-api",
                           "GraphMethodException", 100, error_subcode=33)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server calls it by this name
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                status, body = graph.answer(url.path, query)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

        return Handler
