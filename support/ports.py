"""Ports to run real servers on, and waiting for things to happen."""

import random
import socket
import time


def free_port(kind=socket.SOCK_STREAM):
    """A port the kernel says is free on 127.0.0.1 (for Daphne and other local listeners)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def game_port_free(port):
    """Free for both UDP (A2S) and TCP (RCON), as srcds binds them."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("0.0.0.0", port))
            tcp.bind(("0.0.0.0", port))
    except OSError:
        return False
    return True


def free_game_port():
    """A random free game port below the kernel's ephemeral range: a port the kernel hands
    out can be taken by any outgoing TCP connection (of a parallel run, say) before the
    simulated srcds binds it."""
    rng = random.Random()
    while not game_port_free(port := rng.randrange(20000, 32000)):
        pass
    return port


def free_game_ports(count, start):
    """`count` free game ports above `start`, in order."""
    ports, port = [], start
    while len(ports) < count:
        port += 1
        if game_port_free(port):
            ports.append(port)
    return ports


def wait_for_port(port, proc=None, timeout=20):
    """Until something listens on TCP `port`; fails at once if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def wait_until(predicate, timeout=20, interval=0.05):
    """The first truthy value of `predicate()`, polled every `interval`; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")
