"""Partners (outside companies that bring leads), their portal users, and lead registrations (#25)."""
