"""The web tier: L4D2_WEB_PROCESSES Daphne processes on one port (DESIGN.md §15).

    .venv/bin/python scripts/web.py [--host 127.0.0.1] [--port 8000] [daphne options...]

One Daphne process runs every sync view in one thread, so a second core would idle
while requests queue. This binds the port once per child, each socket with
SO_REUSEPORT and a listen backlog of 1,024 (a crowd opening a job's page in the same
second must not find Twisted's default of 50 full: Linux drops the handshakes beyond
it and their clients retry a second later), then runs N `daphne --fd <n>` children,
each accepting from its own socket, as Channels' deployment docs do it with a socket
bound by a parent. The kernel spreads new connections evenly over the sockets. One
socket shared by all was measured first: whichever Daphne woke first took a whole
burst (Twisted accepts up to 100 connections per wake-up), and 50 browsers connecting
together were split 49 to 1, leaving one core idle for as long as they stayed.
SIGTERM/SIGINT are passed on to every child; a child that dies on its own is started
again on its socket, which waits meanwhile. Under systemd the socket units play this
part (deploy/l4d2-web@.socket).
"""

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

BACKLOG = 1024
APPLICATION = "l4d2site.asgi:application"
# A Daphne that dies is started again at once: the connections the kernel gives its socket
# meanwhile wait there for it. One that dies within CRASH_SECONDS of starting (a broken
# deployment) waits RESTART_SECONDS first, so a crash loop does not spin.
RESTART_SECONDS = 1.0
CRASH_SECONDS = 10.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def process_count():
    value = os.environ.get("L4D2_WEB_PROCESSES", "").strip()
    if not value:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"L4D2_WEB_PROCESSES must be a whole number of at least 1, not {value!r}")
    return int(value)


def listen(host, port, count):
    """`count` listening sockets on host:port sharing it (SO_REUSEPORT), inheritable by the children."""
    # Daphne's --fd adopts an IPv4 socket (Twisted's fd endpoint takes no other family);
    # behind nginx the panel listens on 127.0.0.1 anyway.
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except socket.gaierror as exc:
        raise SystemExit(f"--host must be an IPv4 address or a name with one, not {host!r}: {exc}") from None
    # A port someone listens on already, even with SO_REUSEPORT (a second `make run`), is
    # refused: without this, the two would share it and split the connections between them.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _bind(probe, address, host, port)
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        _bind(sock, address, host, port)
        sock.listen(BACKLOG)  # the kernel caps it at net.core.somaxconn
        sock.set_inheritable(True)
        socks.append(sock)
    return socks


def _bind(sock, address, host, port):
    try:
        sock.bind(address)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _die_with_parent():
    """In the child: SIGTERM when the launcher dies, even by SIGKILL, so no Daphne outlives it
    holding the port (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Launcher:
    def __init__(self, socks, daphne_args):
        self.daphne_args = daphne_args
        self.socks = socks  # held open for the children's lifetime (and any restarted one)
        self.children = [None] * len(socks)
        self.started = [0.0] * len(socks)
        self.stopping = False

    def start(self, slot):
        fd = self.socks[slot].fileno()
        argv = [sys.executable, "-m", "daphne", "--fd", str(fd), *self.daphne_args, APPLICATION]
        self.children[slot] = subprocess.Popen(argv, pass_fds=(fd,), preexec_fn=_die_with_parent)
        self.started[slot] = time.monotonic()

    def stop(self, signum, _frame=None):
        self.stopping = True
        for child in self.children:
            if child is not None and child.poll() is None:
                child.send_signal(signum)

    def run(self):
        for slot in range(len(self.children)):
            self.start(slot)
        while not self.stopping:
            pid, status = os.wait()  # interrupted by the signal handlers, which set stopping
            for slot, child in enumerate(self.children):
                if child is not None and child.pid == pid:
                    child.returncode = os.waitstatus_to_exitcode(status)
                    if not self.stopping:
                        exited = f"web: daphne {pid} exited ({child.returncode}), starting another"
                        print(exited, file=sys.stderr)
                        if time.monotonic() - self.started[slot] < CRASH_SECONDS:
                            time.sleep(RESTART_SECONDS)
                        self.start(slot)
        for child in self.children:
            child.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args, daphne_args = parser.parse_known_args()
    count = process_count()
    launcher = Launcher(listen(args.host, args.port, count), daphne_args)
    signal.signal(signal.SIGTERM, launcher.stop)
    signal.signal(signal.SIGINT, launcher.stop)
    print(f"web: {count} Daphne processes on {args.host}:{args.port}", file=sys.stderr)
    launcher.run()


if __name__ == "__main__":
    main()
