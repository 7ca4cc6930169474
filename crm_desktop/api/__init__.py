"""The desktop's only way to the server: one async HTTP client, the live event stream, and the
session token kept in the OS keyring."""
