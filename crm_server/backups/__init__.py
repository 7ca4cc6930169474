"""Backups (issue #21): pg_dump to the backup folder, verified whole, test-restored weekly, kept by
retention, failures told to admins by e-mail, in the bell and in /health."""
