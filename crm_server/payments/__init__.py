"""Payments across invoices (the Payments page). Payments are recorded on an invoice (invoices area)."""
