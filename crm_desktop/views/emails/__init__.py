"""E-mail screens (issue #22): the composer a lead, client or ticket window opens."""
