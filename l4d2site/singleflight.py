"""One lookup for many identical questions asked together (Go's "singleflight").

A crowd opening one page at once (an owner's tabs, staff watching a job) asks the
same questions within milliseconds: whose session is this, may that user see this
job. The first ask runs; those that arrive while it is in flight share its answer,
which is then at most one query old, as fresh as if they had queued behind it.
Nothing is kept once the answer is out: this is not a cache.
"""

import asyncio
import weakref

_pending_by_loop = weakref.WeakKeyDictionary()


async def shared(key, call):
    """`await call()`, or the outcome of the `shared(key, ...)` already in flight."""
    pending = _pending_by_loop.setdefault(asyncio.get_running_loop(), {})
    future = pending.get(key)
    if future is None:
        future = pending[key] = asyncio.ensure_future(call())
        future.add_done_callback(lambda done: _settled(pending, key, done))
    # One asker giving up (a browser that hung up) must not cancel the others' answer.
    return await asyncio.shield(future)


def _settled(pending, key, future):
    del pending[key]
    if not future.cancelled():
        future.exception()  # retrieved here, so an error nobody awaited anymore is not logged
