"""Helpers for real processes and sockets, shared by tests/ and bench/ (the panel never imports it)."""
