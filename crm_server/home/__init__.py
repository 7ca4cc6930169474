"""Home: the signed-in person's morning at a glance (issue #20)."""
