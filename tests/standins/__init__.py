"""Local stand-ins for third parties' internet services, each speaking its service's documented
format on a loopback port (see each module), and the one way they listen."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Listening:
    """A stand-in's HTTP server on 127.0.0.1:`port`, on a thread of its own. `down()` closes it (the
    service is unreachable: connections are refused) until `up()`."""

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.port, self.handler, self.name = port, handler, name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name=self.name)
        self._thread.start()

    def down(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
