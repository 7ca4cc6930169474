"""The PostgreSQL client tools a backup needs (pg_dump, pg_restore), found and checked, and the
words for what went wrong.

Which binary: CRM_PG_DUMP / CRM_PG_RESTORE when set (an external server of another major), else
the embedded build's own, else the one on PATH. pg_dump must be of the server's major version: it
is checked first, with a clear "pg_dump version mismatch" message."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from crm_server.config import to_libpq_url

# Seconds a connection attempt (ours or the tools') may take before "Connection timed out".
CONNECT_TIMEOUT = 10

MESSAGES = {
    "insufficient_storage": "Insufficient storage",
    "permission_denied": "Permission denied",
    "connection_timed_out": "Connection timed out",
    "version_mismatch": "pg_dump version mismatch",
    "verify_failed": "The backup file could not be read back whole",
    "cancelled": "Cancelled",
    "failed": "The backup failed",
}


class BackupError(Exception):
    """A failure with its cause found: `code` (contract BackupErrorCode) and a sentence for people."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail.strip()
        head = MESSAGES.get(code, MESSAGES["failed"])
        super().__init__(f"{head}: {self.detail}" if self.detail else head)

    @property
    def message(self) -> str:
        return str(self)


def from_os_error(exc: OSError, what: str) -> BackupError:
    """ENOSPC -> Insufficient storage; EACCES/EPERM/EROFS -> Permission denied; timeouts."""
    detail = f"{what}: {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return BackupError("insufficient_storage", detail)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BackupError("permission_denied", detail)
    if exc.errno in (errno.ETIMEDOUT, errno.EHOSTDOWN, errno.EHOSTUNREACH) or isinstance(exc, TimeoutError):
        return BackupError("connection_timed_out", detail)
    return BackupError("failed", detail)


_PATTERNS = (
    ("insufficient_storage", re.compile(r"no space left on device|disk full|quota exceeded", re.I)),
    ("permission_denied", re.compile(r"permission denied|read-only file system|operation not permitted", re.I)),
    ("connection_timed_out", re.compile(r"timeout expired|timed out", re.I)),
    ("version_mismatch", re.compile(r"server version mismatch", re.I)),
)


def from_tool_output(tool: str, stderr: str) -> BackupError:
    """A tool's failure in words, the cause found in what it printed."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    detail = "; ".join(lines[-3:])[:500] or f"{tool} stopped without saying why"
    for code, pattern in _PATTERNS:
        if pattern.search(stderr):
            return BackupError(code, detail)
    return BackupError("failed", detail)


def _embedded_bin() -> Path | None:
    try:
        from crm_server.embedded_db import _bin_dir

        path = _bin_dir()
    except Exception:  # the embedded package is optional for an external server
        return None
    return path if path.is_dir() else None


def binary(tool: str) -> str:
    """The path of `tool` ("pg_dump", "pg_restore"): the env override, the embedded build's, PATH's."""
    override = os.environ.get(f"CRM_{tool.upper()}")
    if override:
        return override
    embedded = _embedded_bin()
    name = tool + (".exe" if os.name == "nt" else "")
    if embedded is not None and (embedded / name).exists():
        return str(embedded / name)
    found = shutil.which(tool)
    if found is None:
        raise BackupError(
            "failed", f"{tool} was not found: install the PostgreSQL client tools or set CRM_{tool.upper()}"
        )
    return found


def tool_major(path: str) -> tuple[int, str]:
    """(major, full version) of a PostgreSQL tool, from its --version ("pg_dump (PostgreSQL) 18.1")."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise BackupError("failed", f"{path} could not be run: {exc.strerror or exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackupError("failed", f"{path} --version did not answer") from exc
    found = re.search(r"(\d+)(?:\.\d+)*", done.stdout)
    if done.returncode != 0 or found is None:
        raise BackupError("failed", f"{path} --version said: {(done.stdout + done.stderr).strip()[:200]}")
    return int(found.group(1)), found.group(0)


def _candidates(tool: str) -> list[str]:
    """Where `tool` may be: only the override when set, else the embedded build's and PATH's."""
    override = os.environ.get(f"CRM_{tool.upper()}")
    if override:
        return [override]
    found: list[str] = []
    embedded = _embedded_bin()
    name = tool + (".exe" if os.name == "nt" else "")
    if embedded is not None and (embedded / name).exists():
        found.append(str(embedded / name))
    on_path = shutil.which(tool)
    if on_path is not None and on_path not in found:
        found.append(on_path)
    return found


def check_version(tool: str, server_version_num: int, server_version: str) -> str:
    """The path of a `tool` of the server's major version (the override, else the embedded
    build's, else PATH's: the first that fits); else "pg_dump version mismatch" naming what was
    found and what to set."""
    server_major = server_version_num // 10000
    seen: list[str] = []
    candidates = _candidates(tool)
    if not candidates:
        binary(tool)  # raises: not found
    for path in candidates:
        major, full = tool_major(path)
        if major == server_major:
            return path
        seen.append(f"{full} ({path})")
    raise BackupError(
        "version_mismatch" if tool == "pg_dump" else "failed",
        f"{tool} is version {', '.join(seen)}, the database server is {server_version}; "
        f"set CRM_{tool.upper()} to a {tool} of PostgreSQL {server_major}",
    )


@dataclass(frozen=True)
class Target:
    """How the tools reach the database: a conninfo without the password, and the password in the
    environment (never on a command line other users can read)."""

    conninfo: str
    env: dict[str, str]

    @classmethod
    def from_url(cls, url: str, dbname: str | None = None) -> Target:
        params = conninfo_to_dict(to_libpq_url(url))
        password = params.pop("password", None)
        if dbname is not None:
            params["dbname"] = dbname
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
        env = {**os.environ, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
        if password:
            env["PGPASSWORD"] = str(password)
        return cls(make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env)

    def url_with_password(self) -> str:
        """A conninfo for our own psycopg connections (password included)."""
        params = conninfo_to_dict(self.conninfo)
        if "PGPASSWORD" in self.env:
            params["password"] = self.env["PGPASSWORD"]
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
