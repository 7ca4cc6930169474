"""Proposals: priced offers to a lead or a client that, once accepted, become invoice drafts."""
