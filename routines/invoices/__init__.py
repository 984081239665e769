"""invoices domain."""
