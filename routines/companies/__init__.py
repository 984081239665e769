"""Companies: the tenants whose routines run here (invoices, reports and calendars refer to them)."""
