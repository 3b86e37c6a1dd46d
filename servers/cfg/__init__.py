"""A server's server.cfg settings (the settings page) and its RCON password (reveal, rotate)."""
