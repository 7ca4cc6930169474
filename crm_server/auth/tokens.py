"""Opaque secrets: session tokens and reset tokens (only their SHA-256 is stored), and recovery
codes (80 secret bits each, stored as a salted argon2 hash beside a short non-secret lookup id)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Lowercase RFC 4648 base32: no 0/1/8/9, so nothing to confuse with o/l/b/g when typed by hand.
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_LOOKUP_CHARS = 4  # 20 bits that find the row; not secret
RECOVERY_SECRET_CHARS = 16  # 16 x 5 = 80 random bits that prove it
RECOVERY_CHARS = RECOVERY_LOOKUP_CHARS + RECOVERY_SECRET_CHARS
# A recovery code has 80 random bits: no dictionary to slow down, so argon2id lighter than the
# password hasher's (which is m=19 MiB, t=2) is plenty and keeps ten of them quick to make.
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_DUMMY_CODE_HASH = _code_hasher.hash("a" * RECOVERY_CHARS)


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_recovery_code() -> str:
    """Like ``k7pq-3mzx-…``: five groups of four, typed by hand once."""
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CHARS, 4))


def normalise_recovery_code(code: str) -> str | None:
    """The code as stored and hashed (lowercase, no dashes or spaces), or None if it cannot be one."""
    clean = code.strip().lower().replace(" ", "").replace("-", "")
    if len(clean) != RECOVERY_CHARS or any(c not in RECOVERY_ALPHABET for c in clean):
        return None
    return clean


def recovery_lookup(normalised: str) -> str:
    return normalised[:RECOVERY_LOOKUP_CHARS]


def hash_recovery_code(normalised: str) -> str:
    return _code_hasher.hash(normalised)


def verify_recovery_code(stored_hash: str | None, normalised: str) -> bool:
    """Constant work whether or not a row was found (stored_hash None)."""
    try:
        return _code_hasher.verify(stored_hash or _DUMMY_CODE_HASH, normalised) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
