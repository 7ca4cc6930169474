"""Sales targets: what a person or a team should win in a month (issue #20)."""
