"""Simulators for steamcmd and srcds; stdlib-only scripts run as subprocesses."""
