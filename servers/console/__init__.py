"""A server's live console: what srcds prints, stored per server, and commands typed into it.

- pump: the worker loop on the game host that tails each server's console.log into
  ConsoleLine rows (exactly once, across restarts) and delivers pending commands
- commands: checking, rate-limiting and storing a command (web side, HTTP and WebSocket)
- source: the console as a `streams.tail.Source`; consumers: its WebSocket
- views: the console page and its POST
"""
