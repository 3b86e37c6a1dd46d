"""A listen backlog for crowds: Daphne listens with Twisted's default of 50.

When more than 50 connections arrive before Daphne accepts them (two hundred browsers
opening a job's page in the same second), Linux drops the rest of the handshakes and
their clients try again a whole second later. Daphne has no setting for this short of a
hand-written endpoint string, and its documented command (`daphne -b … -p …`) does not
take one, so the panel raises the backlog of the sockets Daphne listens on itself, once
the reactor starts (they are listening by then). The kernel caps it at
net.core.somaxconn.
"""

import sys

BACKLOG = 1024


def raise_when_listening(backlog=BACKLOG):
    # Only under Daphne (or its runserver): it installs the reactor before loading the
    # app. Importing the reactor anywhere else would install one nobody runs.
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None:
        reactor.callWhenRunning(raise_backlog, reactor, backlog)


def raise_backlog(reactor, backlog=BACKLOG):
    """listen() again with a longer queue: Linux applies it to a listening socket in place."""
    from twisted.internet.tcp import Port

    for reader in reactor.getReaders():
        if isinstance(reader, Port) and reader.backlog < backlog:
            reader.socket.listen(backlog)
            reader.backlog = backlog
