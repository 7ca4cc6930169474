"""One module per screen; admin/ holds the admin panel."""
