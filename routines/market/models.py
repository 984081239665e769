"""Tables of the market domain."""
