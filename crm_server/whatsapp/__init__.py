"""WhatsApp Business through the Cloud API (issue #23)."""
