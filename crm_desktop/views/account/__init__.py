"""One's own account: change password, two-factor set-up, profile."""
