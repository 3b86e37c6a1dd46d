"""Plain-Python host control for L4D2 dedicated servers (never imports Django).

- process: run a command, stream its lines, cancel it with its whole tree
- l4d2: install/update/start/stop/restart/status of one server
- config: HostConfig, built from settings or the environment
- sim: stand-ins for steamcmd and srcds used by tests and simulate mode
"""
