"""market domain."""
