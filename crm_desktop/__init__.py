"""The CRM desktop app office staff install."""
