"""Exports as jobs: a list's filter re-run in its owner's scope, written as .xlsx or .csv into the
database, downloaded until it expires (see service.py)."""
