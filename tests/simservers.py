"""Simulated game servers for tests: installed and started in the test process, through the facade.

The srcds simulator is a real process with a real console.log and console FIFO,
so a real worker's console pump (another process) tails and feeds it as it
would a server its own job started.
"""

from servers import l4d2_facade
from servers.models import Server


def quick_host(settings, root):
    """Point the panel (the `settings` fixture) at `root` with quick simulators; returns `root`."""
    settings.HOSTCTL_ROOT = root
    settings.HOSTCTL_SIM_SECONDS = 0.2
    settings.HOSTCTL_STOP_GRACE = 1
    return root


def start(server):
    """Install and start `server` (a Server row); its actual state becomes running."""
    said = []

    def sink(stream, text):
        said.append(f"[{stream}] {text}")

    for kind in ("install", "start"):
        code = l4d2_facade.run(kind, server, sink)
        assert code == 0, f"{kind} failed:\n" + "\n".join(said)
    assert l4d2_facade.refresh_actual_state(server).state == "running"
    return said


def stop(server):
    l4d2_facade.run("stop", Server.objects.get(pk=server.pk), lambda *_: None)
