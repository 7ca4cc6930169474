"""Integrations: outside systems' webhooks land in a durable inbox; jobs turn them into CRM changes."""
