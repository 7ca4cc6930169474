"""Global search: one box that finds leads, clients, contacts (and whatever later areas register)."""
