"""Users, roles, teams, sessions, 2FA, and the login and security logs."""
