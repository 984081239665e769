"""Notifications for finance and operations staff (pt-BR): failed runs and other events that need a person."""
