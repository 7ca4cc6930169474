"""The server's deployment files stay true to the code: the env example documents every setting,
the systemd unit passes `systemd-analyze verify`, and nginx passes the WebSocket upgrade through."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_server.config import Config

SERVER = Path(__file__).resolve().parents[2] / "installer" / "server"


def test_env_example_documents_every_setting() -> None:
    text = (SERVER / "crm-server.env.example").read_text()
    documented = set(re.findall(r"^#?(CRM_[A-Z_]+)=", text, re.MULTILINE))
    settings = {f"CRM_{name.upper()}" for name in Config.model_fields}
    assert documented == settings, f"missing: {settings - documented}, unknown: {documented - settings}"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not found: cannot verify the unit on this machine")
    crm_server = Path(sys.executable).with_name("crm-server")
    unit = (SERVER / "crm-server@.service").read_text()
    assert not re.search(r"^ExecStartPre", unit, re.MULTILINE)  # migrating is an explicit step (unit comment)
    # Point ExecStart at this venv's crm-server so verify can check it is executable.
    unit = unit.replace("/opt/crm-server/venv/bin/crm-server", str(crm_server))
    (tmp_path / "crm-server@.service").write_text(unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", "crm-server@8401.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "crm-server@" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def test_nginx_config_balances_processes_and_upgrades_websockets(tmp_path: Path) -> None:
    text = (SERVER / "nginx-crm.conf").read_text()
    upstream = re.search(r"upstream crm_servers \{(.*?)\}", text, re.DOTALL)
    assert upstream and len(re.findall(r"^\s*server 127\.0\.0\.1:\d+", upstream.group(1), re.MULTILINE)) >= 2
    events = re.search(r"location = /api/events \{(.*?)\}", text, re.DOTALL)
    assert events and "proxy_read_timeout" in events.group(1)
    for header in (
        "Upgrade $http_upgrade",
        "Connection $connection_upgrade",
        "X-Forwarded-For",
        "X-Forwarded-Proto $scheme",
        "Host $http_host",
    ):
        assert f"proxy_set_header {header}" in text, header
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not nginx:
        pytest.skip("nginx not installed: the config was checked by reading only (nginx -t not run)")
    # nginx -t needs the certificate files to exist; a throwaway self-signed pair stands in.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=crm.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    site = text.replace("/etc/ssl/certs/crm.example.com.fullchain.pem", str(cert)).replace(
        "/etc/ssl/private/crm.example.com.key", str(key)
    )
    (tmp_path / "crm.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in kinds)
    (tmp_path / "nginx.conf").write_text(
        f"error_log {tmp_path}/error.log; pid {tmp_path}/nginx.pid; events {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path}/crm.conf; }}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
