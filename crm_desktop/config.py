"""Where the desktop finds its server, and what it remembers between runs.

The server address is taken from, in order:
1. ``--server URL`` on the command line;
2. the environment variable ``CRM_SERVER_URL``;
3. the address remembered from the last successful sign-in (QSettings, per user);
4. the config file IT can deploy, ``desktop.ini`` in the user's config folder
   (Linux ``~/.config/crm/desktop.ini``, macOS ``~/Library/Application Support/crm/desktop.ini``,
   Windows ``%LOCALAPPDATA%\\crm\\desktop.ini``), or the file named by ``CRM_DESKTOP_CONFIG``::

       [server]
       url = https://crm.example.com

5. ``http://127.0.0.1:8400`` (a server on this computer, crm-server's default port).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

DEFAULT_SERVER_URL = "http://127.0.0.1:8400"
ORGANIZATION = "crm"
APPLICATION = "crm-desktop"


def config_file_path() -> Path:
    explicit = os.environ.get("CRM_DESKTOP_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir("crm", appauthor=False)) / "desktop.ini"


def config_file_server_url(path: Path | None = None) -> str | None:
    parser = configparser.ConfigParser()
    try:
        parser.read(path or config_file_path(), encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    url = parser.get("server", "url", fallback="").strip()
    return url or None


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    return url


def resolve_server_url(cli_url: str | None = None) -> str:
    for candidate in (cli_url, os.environ.get("CRM_SERVER_URL"), remembered_server_url(), config_file_server_url()):
        if candidate:
            return normalize_url(candidate)
    return DEFAULT_SERVER_URL


def remembered_server_url() -> str | None:
    value = QSettings().value("server/url")
    return str(value) if value else None


def remember_sign_in(server_url: str, email: str) -> None:
    settings = QSettings()
    settings.setValue("server/url", server_url)
    settings.setValue("account/email", email)


def remembered_email() -> str:
    value = QSettings().value("account/email")
    return str(value) if value else ""
