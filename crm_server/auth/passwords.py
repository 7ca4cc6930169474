"""Password hashing (argon2id, OWASP's m=19 MiB, t=2, p=1) and the password policy."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crm_server.errors import ValidationFailed

MAX_LENGTH = 128  # ASVS: at least 64 allowed
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


@lru_cache
def common_passwords() -> frozenset[str]:
    text = files("resources").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_policy(
    password: str, min_length: int = 12, field: str = "new_password", personal: tuple[str, ...] = ()
) -> None:
    if len(password) < min_length:
        raise ValidationFailed(
            f"The password needs at least {min_length} characters.", field=field, code="password_too_short"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(
            f"The password may have at most {MAX_LENGTH} characters.", field=field, code="password_too_long"
        )
    if password.lower() in common_passwords():
        raise ValidationFailed(
            "This password is among the most common ones; choose another.", field=field, code="password_common"
        )
    lowered = password.lower()
    if any(p and len(p) >= 4 and p.lower() in lowered for p in personal):
        raise ValidationFailed(
            "The password must not contain your name or email.", field=field, code="password_personal"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
