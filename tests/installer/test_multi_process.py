"""The console script IT runs. Several real `crm-server serve` processes on one PostgreSQL behind
nginx (/health on each, live events and sessions across processes, each job once) are
tests/multi/test_behind_nginx.py's: the two-process test that was here checked nothing more, and cost
about 15 s of the suite."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def test_crm_server_script_is_installed() -> None:
    # The systemd unit and the README call the console script; make sure the venv has it.
    assert shutil.which("crm-server", path=str(Path(sys.executable).parent)), "pip install -e . creates crm-server"
