"""hostctl must stay importable without Django (the worker host may run it alone)."""

import subprocess
import sys

CHECK = (
    "import hostctl, hostctl.process, hostctl.lines, hostctl.proctree, hostctl.l4d2, hostctl.spec, "
    "hostctl.srcds, hostctl.config, hostctl.a2s, hostctl.steamcmd, hostctl.servercfg, hostctl.errors, "
    "hostctl.sim.steamcmd, hostctl.sim.srcds, hostctl.cmdline, hostctl.unsafe, hostctl.cvars, "
    "hostctl.sourcemod, hostctl.mods, hostctl.download, hostctl.smadmins, "
    "hostctl.sim.alliedmods, hostctl.sim.mods\n"
    "import sys\n"
    "leaked = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
    "assert not leaked, leaked"
)


def test_hostctl_imports_no_django():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
