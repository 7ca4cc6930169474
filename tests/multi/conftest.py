"""One set of processes for the whole directory: three `crm-server serve` on one database (job
worker and periodic scheduler on in each, as in production) behind Debian's nginx.

The desktop fixtures are tests/desktop's; `server` here is not a server of its own but the nginx
door in front of the three (``desk.api()`` goes through nginx)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_server.embedded_db import EmbeddedPostgres
from tests.conftest import Clones
from tests.desktop.conftest import (  # noqa: F401  (fixtures and the hook, shared with tests/desktop)
    desk,
    isolated_desktop_state,
    no_stray_windows,
    pytest_runtest_call,
    qloop,
)
from tests.multi.cluster import Cluster, nginx_binary
from tests.support import LiveServer, make_url


@pytest.fixture(scope="package")
def cluster(pg_cluster: EmbeddedPostgres, clones: Clones) -> Iterator[Cluster]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (tests/run installs Debian's nginx as root)")
    name = clones.take()
    url = make_url(pg_cluster.admin_url, name)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="crm-multi-") as folder, Cluster.run(url, Path(folder)) as made:
        yield made
    clones.give_back(name)


@pytest.fixture
def server(cluster: Cluster) -> LiveServer:
    """The three processes as one server: its base URL is nginx's."""
    return LiveServer(cluster.database_url, cluster.proxy)
