"""What the login window says when signing in fails."""

from __future__ import annotations

from crm_desktop.api.client import ApiError, Offline
from crm_desktop.operations.errors import local_time


def sign_in_message(error: ApiError, server_url: str) -> str:
    if isinstance(error, Offline):
        return f"Can't reach the server at {server_url}. Check the address and your network connection, then try again."
    if error.code == "bad_credentials":
        return "That email and password don't match. Check both and try again."
    if error.code == "account_locked":
        until = local_time(error.extra.get("locked_until"))
        when = f" It unlocks at {until} (your local time)." if until else ""
        return f"This account is locked after too many failed attempts.{when} An administrator can unlock it sooner."
    if error.code == "account_inactive":
        return "This account has been deactivated. Ask your administrator if you need access again."
    if error.code == "login_throttled":
        return "Too many sign-in attempts from this computer. Wait a few minutes and try again."
    if error.code == "bad_otp":
        return "That code didn't work. Codes change every 30 seconds; type the one shown now."
    if error.status >= 500:
        return "The server had a problem signing you in. Try again in a moment."
    return error.message
