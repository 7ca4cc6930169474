"""Invoices, credit notes and payments: drafts, gapless numbering on issue, payments, cancellation."""
