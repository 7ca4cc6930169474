"""The server as IT installs it: a wheel, pip-installed into its own venv, migrating a database.

The wheel is built from a copy of the source (so the working tree gets no build/ or egg-info) with
the documented `pip wheel --no-deps . -w DIR`: pip fetches the build backend (setuptools>=69,
wheel) into an isolated build environment, so it needs the package index, as `bash tests/run`
does. The fresh venv gets the wheel with --no-deps and borrows the test venv's third-party
packages through a .pth line: the CRM's own code, its migrations and resources then come from the
wheel only (the editable install is not visible there), and no minute is spent downloading and
installing dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg
import pytest

from tests.support import make_url

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "crm_server", "crm_desktop", "migrations", "resources"]

pytestmark = pytest.mark.timeout(300)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ".", "-w", str(out)], cwd=src)
    (built,) = out.glob("crm-*.whl")
    return built


def test_wheel_holds_both_apps_migrations_and_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "crm_server/__init__.py",
        "crm_server/cli.py",
        "crm_desktop/__init__.py",
        "crm_desktop/app.py",
        "migrations/env.py",
        "migrations/script.py.mako",
        "resources/common-passwords.txt",
    ]:
        assert required in names, required
    versions = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py") if p.name != "__init__.py")
    assert versions, "no migration in the source tree"
    for version in versions:
        assert f"migrations/versions/{version}" in names, version
    for resource in (ROOT / "resources").rglob("*"):
        if resource.is_file() and resource.suffix in {".svg", ".qss", ".txt", ".ttf"}:
            assert resource.relative_to(ROOT).as_posix() in names, resource
    dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(dist_info).decode()
    assert "crm-server = crm_server.cli:main" in entry_points
    assert "crm-desktop = crm_desktop.app:main" in entry_points


def test_installed_wheel_migrates_up_and_down(wheel: Path, pg_cluster: object, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "PYTHON"))}
    where = _run(
        [
            str(python),
            "-c",
            "import crm_server, migrations, resources; "
            "print(crm_server.__file__, migrations.__file__, resources.__file__)",
        ],
        env=env,
        cwd=tmp_path,
    )
    assert all(p.startswith(str(venv)) for p in where.stdout.split()), where.stdout

    admin_url: str = pg_cluster.admin_url  # type: ignore[attr-defined]
    name = f"wheel_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env["CRM_DATABASE_URL"] = make_url(admin_url, name)
    crm_server = str(venv / "bin" / "crm-server")
    try:
        up = _run([crm_server, "migrate"], env=env, cwd=tmp_path)
        head = up.stdout.split()[-1]
        down = _run([crm_server, "migrate", "--downgrade"], env=env, cwd=tmp_path)
        assert down.stdout.split()[-1] != head
        again = _run([crm_server, "migrate"], env=env, cwd=tmp_path)
        assert again.stdout.split()[-1] == head
        _run(
            [crm_server, "create-admin", "--email", "it@example.com", "--password-stdin"],
            env=env,
            cwd=tmp_path,
            input="a long admin passphrase\n",
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
