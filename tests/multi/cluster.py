"""Several `crm-server serve` processes on one database behind Debian's nginx, for tests/multi and the
benchmarks (tests/perf/bench_webhooks.py --nginx, tests/perf/bench_desktops.py).

nginx runs the production site (installer/server/nginx-crm.conf) turned into a loopback one: its
upstream lists these processes, plain HTTP on a free port instead of TLS, and each answer names the
process that gave it (X-CRM-Upstream), so a test can tell where a desktop's WebSocket landed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import free_port, server_process

SITE = Path(__file__).resolve().parents[2] / "installer" / "server" / "nginx-crm.conf"
UPSTREAM_HEADER = "X-CRM-Upstream"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def loopback_site(ports: list[int], listen: int) -> str:
    """The production site with these upstream ports, listening on 127.0.0.1:`listen` without TLS."""
    text = SITE.read_text()
    upstream = re.search(r"upstream crm_servers \{.*?\n\}", text, re.DOTALL)
    assert upstream, "nginx-crm.conf: no upstream crm_servers block"
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+( [^;]*)?;$", upstream.group(0), re.MULTILINE)
    assert servers, "nginx-crm.conf: no upstream server lines"
    params = servers[0]  # max_fails/fail_timeout as written for production
    lines = "".join(f"    server 127.0.0.1:{port}{params};\n" for port in ports)
    block = re.sub(r"(^\s*server 127\.0\.0\.1:\d+[^;]*;\n)+", lambda _: lines, upstream.group(0), flags=re.MULTILINE)
    text = text.replace(upstream.group(0), block)
    # The port-80 block only redirects to TLS: drop it; the TLS block listens on loopback in plain HTTP.
    text = re.sub(r"server \{\s*listen 80;.*?\n\}\n", "", text, flags=re.DOTALL)
    text = re.sub(r"^\s*listen \[::\]:443[^;]*;\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^(\s*)listen 443[^;]*;", rf"\1listen 127.0.0.1:{listen};", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*ssl_[a-z_]+ [^;]*;\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*add_header Strict-Transport-Security[^;]*;\n", "", text, flags=re.MULTILINE)
    # Test only: which process answered (also on the WebSocket's 101).
    return text.replace(
        "server_name crm.example.com;", f"server_name _;\n    add_header {UPSTREAM_HEADER} $upstream_addr always;"
    )


@contextmanager
def nginx(ports: list[int], folder: Path) -> Iterator[str]:
    """nginx in the foreground (`daemon off;`) as a child process, its pid, logs and temp files in
    `folder`; yields its base URL once it answers."""
    binary = nginx_binary()
    assert binary, "nginx is not installed (tests/run installs Debian's nginx)"
    folder.mkdir(parents=True, exist_ok=True)
    listen = free_port()
    (folder / "crm.conf").write_text(loopback_site(ports, listen))
    temp = "".join(
        f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # Run as root, workers would switch to `nobody`, who cannot write the temp folders under a 0700 tmp.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"{user}daemon off; worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log {folder}/access.log; {temp} include {folder}/crm.conf; }}\n"
    )
    log = (folder / "nginx.out").open("w")
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{listen}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"nginx exited: {(folder / 'error.log').read_text(errors='replace')}"
            try:
                httpx.get(base + "/health", timeout=2)  # any answer: nginx listens
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class Cluster:
    """`count` server processes on `database_url` and nginx in front; one can be killed."""

    database_url: str
    ports: list[int]
    proxy: str = ""
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stacks: dict[int, ExitStack] = field(default_factory=dict)

    @classmethod
    @contextmanager
    def run(
        cls, database_url: str, folder: Path, count: int = 3, schedule: bool = True, pool_size: int = 5
    ) -> Iterator[Cluster]:
        made = cls(database_url, [free_port() for _ in range(count)])
        try:
            for port in made.ports:  # one after another: side by side they starve each other on 2 cores
                made._start(port, schedule, pool_size)
            with nginx(made.ports, folder) as proxy:
                made.proxy = proxy
                yield made
        finally:
            for stack in made._stacks.values():
                stack.close()

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def index_of(self, upstream: str) -> int:
        """Which process an X-CRM-Upstream value ("127.0.0.1:port") names."""
        return self.ports.index(int(upstream.rsplit(":", 1)[1]))

    def kill(self, index: int) -> None:
        """SIGKILL: no graceful shutdown, its WebSockets and connections just drop."""
        process = self.processes[self.ports[index]]
        process.kill()
        process.wait(timeout=10)

    def _start(self, port: int, schedule: bool, pool_size: int) -> None:
        stack = ExitStack()
        self.processes[port] = stack.enter_context(
            server_process(self.database_url, port, pool_size=pool_size, schedule=schedule)
        )
        self._stacks[port] = stack
