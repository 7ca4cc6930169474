"""Signing in: the login window (with 2FA, forgotten password, first-time steps) and the re-login prompt."""
