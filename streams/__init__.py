"""The live-stream machinery shared by job logs, server consoles and live state; it knows
nothing of jobs or servers: a source (source.py) says how to read one stream.

- numbered: the abstract model of a numbered line; sink: writing them by group commit
- layer, wake: the nudges (same host: datagrams; other hosts: the Redis channel layer)
- tail: one poller per stream per process; viewer: one viewer's follow, no loss, no repeat
- events: what a stream tells its viewers, and its wire formats (WebSocket, SSE)
- consumers: the WebSocket consumer every stream builds on; revocation: closing the
  streams of someone who lost the right to them
"""
