"""A stand-in for a WooCommerce store's REST API (v3) on a loopback port, answering as WooCommerce
documents it: `GET /wp-json/wc/v3/orders` with modified_after (GMT with dates_are_gmt), per_page and
page, the X-WP-Total / X-WP-TotalPages headers, HTTP Basic auth with the consumer key and secret,
and WooCommerce's error body (`{"code": "woocommerce_rest_cannot_view", "message", "data": {"status"}}`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins import Listening
from tests.support import free_port

ORDERS_PATH = "/wp-json/wc/v3/orders"


@dataclass
class WooStandIn:
    key: str = "ck_test_123"
    secret: str = "cs_test_456"
    port: int = field(default_factory=free_port)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)  # the query of each orders request

    @classmethod
    @contextmanager
    def run(cls, **kwargs: Any) -> Iterator[WooStandIn]:
        store = cls(**kwargs)
        listening = Listening(store.port, store._handler(), "woo-standin")
        listening.up()
        try:
            yield store
        finally:
            listening.down()

    @property
    def url(self) -> str:
        """What goes into the woocommerce.store_url setting."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        return {
            "woocommerce.store_url": self.url,
            "woocommerce.consumer_key": self.key,
            "woocommerce.consumer_secret": self.secret,
        }

    def put(self, order: dict[str, Any]) -> None:
        self.orders[int(order["id"])] = order

    def _authorised(self, header: str | None) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        return header == expected

    def _page(self, query: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
        after = query.get("modified_after")
        rows = sorted(self.orders.values(), key=lambda o: (o["date_modified_gmt"], o["id"]))
        if after:
            limit = datetime.fromisoformat(after)
            rows = [o for o in rows if datetime.fromisoformat(o["date_modified_gmt"]) > limit]
        per_page = int(query.get("per_page", "10"))
        page = int(query.get("page", "1"))
        return rows[(page - 1) * per_page : page * per_page], len(rows)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet tests
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != ORDERS_PATH:
                    self._answer(
                        404,
                        {
                            "code": "rest_no_route",
                            "data": {"status": 404},
                            "message": "No route was found matching the URL and request method.",
                        },
                    )
                    return
                if not store._authorised(self.headers.get("Authorization")):
                    self._answer(
                        401,
                        {
                            "code": "woocommerce_rest_cannot_view",
                            "message": "Sorry, you cannot list resources.",
                            "data": {"status": 401},
                        },
                    )
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                store.requests.append(query)
                rows, total = store._page(query)
                per_page = int(query.get("per_page", "10"))
                self._answer(
                    200, rows, {"X-WP-Total": str(total), "X-WP-TotalPages": str(max(1, -(-total // per_page)))}
                )

        return Handler
