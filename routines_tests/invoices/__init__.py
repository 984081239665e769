"""Tests of the invoices domain."""
