"""E-mail from the CRM (issue #22): templates, sending from a record, suppression list."""
