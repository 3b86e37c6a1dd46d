"""The live-stream machinery shared by job logs and server consoles.

It knows nothing of jobs or servers: a *source* (see `tail.Source`) says how to read
one stream's rows and state, and everything else is here:

- layer: the cross-process channel layer (Redis): fire-and-forget publish, one listen loop
- sink: batched, gap-free, group-committed writing of numbered lines
- tail: one poller per stream per process, fanned out to every viewer without loss or repeats
- frames: the wire formats (WebSocket frames, Server-Sent Events, the `after` resume point)
- consumers: the WebSocket consumer both kinds of stream build on
"""
