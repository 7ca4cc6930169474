"""Clients (companies we sell to or buy from) and their contacts."""
