"""Opaque secrets: session tokens, reset tokens, recovery codes. Only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_recovery_code() -> str:
    raw = secrets.token_hex(5)  # 40 bits, typed by hand once
    return f"{raw[:5]}-{raw[5:]}"


def normalise_recovery_code(code: str) -> str:
    clean = code.strip().lower().replace(" ", "").replace("-", "")
    return f"{clean[:5]}-{clean[5:]}"
