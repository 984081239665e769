"""Tables of the calendar domain."""
