"""Shared bits of the benchmarks: a throwaway cluster, migrated database and live server."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm_server import migrate
from crm_server.embedded_db import EmbeddedPostgres
from tests.support import LiveServer


@contextmanager
def live_server(worker: bool = False) -> Iterator[LiveServer]:
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as root:
        cluster = EmbeddedPostgres(Path(root))
        url = cluster.start("bench")
        try:
            migrate.upgrade(url)
            with LiveServer.run(url, worker=worker) as server:
                yield server
        finally:
            cluster.stop()


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    q = statistics.quantiles(ordered, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, max {ordered[-1]:.1f} ms (n={len(ordered)})"
