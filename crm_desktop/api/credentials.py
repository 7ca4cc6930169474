"""The session token in the OS keyring (Keychain, Credential Manager, Secret Service).

Without a working keyring (headless Linux: keyring's ``fail`` backend raises NoKeyringError; a
locked or absent D-Bus service raises other KeyringErrors) nothing is stored and the app simply asks
for the password next time. Calls run in a worker thread: some backends talk to D-Bus and may wait.
"""

from __future__ import annotations

import asyncio
import logging

import keyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)

SERVICE = "crm-desktop"


def _account(server_url: str, email: str) -> str:
    return f"{email.strip().lower()}@{server_url.rstrip('/')}"


def save_token_now(server_url: str, email: str, token: str) -> bool:
    try:
        keyring.set_password(SERVICE, _account(server_url, email), token)
    except (KeyringError, RuntimeError, OSError) as exc:
        log.info("no usable keyring (%s); the password will be asked next time", exc)
        return False
    return True


def load_token_now(server_url: str, email: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, _account(server_url, email))
    except (KeyringError, RuntimeError, OSError) as exc:
        log.info("no usable keyring (%s)", exc)
        return None


def forget_token_now(server_url: str, email: str) -> None:
    try:
        keyring.delete_password(SERVICE, _account(server_url, email))
    except (KeyringError, RuntimeError, OSError):
        pass


async def save_token(server_url: str, email: str, token: str) -> bool:
    return await asyncio.to_thread(save_token_now, server_url, email, token)


async def load_token(server_url: str, email: str) -> str | None:
    return await asyncio.to_thread(load_token_now, server_url, email)


async def forget_token(server_url: str, email: str) -> None:
    await asyncio.to_thread(forget_token_now, server_url, email)
