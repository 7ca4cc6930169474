"""Every main screen and dialog in a real X window (xcb on a private Xvfb) at 1280x800 and 1920x1080,
light and dark, against the demo data: no two neighbours of a filter, title or action bar overlap,
no column header is cut at its default width, and no window or dialog is bigger than the screen.

One ``python -m crm_desktop.screenshots --check`` per size (both themes in it), the two side by side,
both against one demo server (crm_desktop.local_server with the demo data, as the screenshots module
uses). A failure lists every finding as crm_desktop.layout_check reports it. tests/run installs Xvfb
and the xcb libraries as root (CI); elsewhere the test is skipped only when Xvfb is missing and not on CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_desktop.layout_check import Xvfb, parse_size
from crm_desktop.local_server import LocalServer

SIZES = ("1280x800", "1920x1080")
RUN_TIMEOUT = 900  # seconds for both themes at one size on a busy machine


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    if not Xvfb.available():
        if os.environ.get("CI") or (hasattr(os, "geteuid") and os.geteuid() == 0):
            pytest.fail("Xvfb is not installed: tests/run installs it (apt-get install xvfb) as root")
        pytest.skip("Xvfb is not installed (tests/run installs it as root)")
    # Right under the temporary folder, as the screenshots module does: as root the embedded PostgreSQL
    # runs as its own system user, who cannot enter pytest's private tmp_path folders.
    data = Path(tempfile.mkdtemp(prefix="crm-screens-fit-"))
    local = LocalServer(data, worker=False)
    try:
        yield local.start()
    finally:
        local.stop()
        shutil.rmtree(data, ignore_errors=True)


def _findings(stdout: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _listing(findings: list[dict[str, str]]) -> str:
    return "\n".join(
        f"  [{f['size']} {f['theme']} {f['shot']}] {f['check']}: {f['where']}: {f['detail']}" for f in findings
    )


def _check_screens(sizes: list[str], demo_server: str, tmp_path: Path) -> dict[str, tuple[int, str, str]]:
    """One `screenshots --check` per size, side by side; (exit status, stdout, stderr) per size.
    PYTHONFAULTHANDLER: a crash prints where it happened."""
    screens = {size: Xvfb(parse_size(size)) for size in sizes}
    runs: dict[str, subprocess.Popen[str]] = {}
    outputs: dict[str, tuple[int, str, str]] = {}
    try:
        for size, xvfb in screens.items():
            xvfb.start()
            command = [sys.executable, "-m", "crm_desktop.screenshots", str(tmp_path / size), "--check"]
            command += ["--on-this-screen", "--theme", "both", "--size", size, "--server", demo_server]
            runs[size] = subprocess.Popen(
                command,
                env={**xvfb.env(), "PYTHONFAULTHANDLER": "1"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for size, run in runs.items():
            stdout, stderr = run.communicate(timeout=RUN_TIMEOUT)
            outputs[size] = (run.returncode, stdout, stderr)
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.communicate()
        for xvfb in screens.values():
            xvfb.stop()
    return outputs


@pytest.mark.timeout(2 * RUN_TIMEOUT + 120)
def test_every_screen_fits_a_real_window(demo_server: str, tmp_path: Path) -> None:
    outputs = _check_screens(list(SIZES), demo_server, tmp_path)
    # The check process died of SIGSEGV in about one full run in four until the screenshots process
    # collected garbage on the GUI thread only (gc_guard, as the app does): a size whose run crashes
    # is checked once more with the crash's traceback (faulthandler) as a warning; twice fails.
    crashed = [size for size, (status, _out, _err) in outputs.items() if status < 0]
    if crashed:
        for size in crashed:
            crash = outputs[size][2][-6000:]
            warnings.warn(f"screens check at {size} crashed (exit {outputs[size][0]}):\n{crash}", stacklevel=1)
        outputs.update(_check_screens(crashed, demo_server, tmp_path / "again"))
        for size in crashed:
            shutil.rmtree(tmp_path / size, ignore_errors=True)
            (tmp_path / "again" / size).rename(tmp_path / size)
    findings: list[dict[str, str]] = []
    for size, (status, stdout, stderr) in outputs.items():
        assert status in (0, 1), f"the check at {size} did not run (exit {status}):\n{stderr[-4000:]}"
        pictures = {p.name for p in (tmp_path / size).glob("*.png")}
        assert {"light-invoices.png", "dark-invoices.png", "light-invoice-editor.png"} <= pictures, sorted(pictures)
        findings += _findings(stdout)
        assert findings or status == 0, stderr[-4000:]
    assert not findings, f"{len(findings)} layout problems:\n{_listing(findings)}"
