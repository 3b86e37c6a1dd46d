#!/usr/bin/env python3
"""The hostile process tree bench/peers.py cancels (stdlib only).

    hostile_tree.py [ignored arguments]

Run as a job's command (the panel passes steamcmd's argv through
HOSTCTL_STEAMCMD; Celery and RQ tasks run it with no arguments), it makes:

  root    the command itself: ignores SIGTERM, sleeps until killed;
  setsid  a child (the job's grandchild) that calls setsid(), so it is in
          neither the job's session nor its process group: signals sent to the
          group miss it, and once the root dies only its pid can find it;
  group   a child that stays in the root's process group.

Both children ignore SIGTERM and sleep until killed, and keep the root's
stdout/stderr open (output pipes stay open until they die). Every process,
once it ignores SIGTERM, creates $BENCH_PID_DIR/<role>.<pid>: the bench knows
the tree is fully up when all three exist and can find every process afterwards,
including the ones the system running the job lost track of.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROLES = ("root", "setsid", "group")


def record(role: str) -> None:
    pid_dir = os.environ.get("BENCH_PID_DIR")
    if pid_dir:
        Path(pid_dir, f"{role}.{os.getpid()}").touch()


def sleep_forever():
    while True:
        time.sleep(3600)


def main(argv):
    role = argv[1] if argv[:1] == ["--child"] else "root"
    if role == "setsid":
        os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    record(role)
    if role == "root":
        for child in ("setsid", "group"):
            subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--child", child], stdin=subprocess.DEVNULL
            )
        print("hostile tree: root and two children started, all ignoring SIGTERM", flush=True)
    sleep_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
