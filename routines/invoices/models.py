"""Tables of the invoices domain."""
