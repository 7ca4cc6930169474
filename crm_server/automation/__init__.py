"""Automation rules and outgoing webhooks (issue #24)."""
