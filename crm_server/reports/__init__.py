"""Reports: sales totals on an accrual (invoice date) or cash (payment date) basis."""
