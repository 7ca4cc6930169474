"""Leads: the sales pipeline from first contact to won or lost, its board, rules and clean-up tools."""
