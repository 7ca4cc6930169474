"""``crm-desktop --self-test --demo`` starts the way ``crm-desktop --demo`` does (the local server
launched before Qt loads, its data under CRM_DATA_DIR/demo, kept for the next start) and says each
step of the start, which tests/perf/bench_desktop_start.py reads; a demo that cannot start ends the
self-test with the reason instead of waiting on its splash for a person."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("server imports", "initdb", "migrations", "demo data", "server start", "sign-in and first screen")


def _self_test_demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6", CRM_DATA_DIR=str(data_dir))
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "crm_desktop.app", "--self-test", "--demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def _steps(stdout: str) -> dict[str, int]:
    return {name: int(ms) for name, ms in re.findall(r"^phase (.+): (-?\d+) ms$", stdout, re.MULTILINE)}


def test_the_demo_self_test_starts_twice_on_its_data_folder_and_tells_each_step(tmp_path: Path) -> None:
    first = _self_test_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "self-test ok" in first.stdout and "demo main window shown in" in first.stdout
    steps = _steps(first.stdout)
    for step in STEPS:
        assert any(name.startswith(step) for name in steps), (step, first.stdout)
    assert (tmp_path / "demo" / "pgdata" / "PG_VERSION").exists()  # the demo lives under CRM_DATA_DIR

    again = _self_test_demo(tmp_path)  # a warm start: the same cluster and data, no new cluster made
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    initdb = [ms for name, ms in _steps(again.stdout).items() if name.startswith("initdb")]
    assert initdb == [0], again.stdout


def test_a_demo_that_cannot_start_ends_the_self_test_with_the_reason(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("the demo cannot make its folder under a file")
    result = _self_test_demo(not_a_folder)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "self-test failed: the demo did not start: The demo could not start" in result.stdout
