"""Settings, the audit log, system health (and later backups)."""
