#!/usr/bin/env python3
"""A hostile "steamcmd" for tests: it daemonizes a helper the classic way and keeps printing.

The daemon forks twice (its middle process exits at once, so it is nobody's descendant),
calls setsid(), closes its stdio and ignores SIGTERM. Both pids go to $DAEMON_PID_FILE.
"""

import os
import signal
import sys
import time

pid_file = os.environ["DAEMON_PID_FILE"]
open(pid_file, "a").write(f"{os.getpid()}\n")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        open(pid_file, "a").write(f"{os.getpid()}\n")
        time.sleep(600)
    os._exit(0)
os.wait()
while True:
    print(" Update state (0x61) downloading, progress: 1.00 (1 / 100)", flush=True)
    time.sleep(0.2)
    if len(sys.argv) > 99:  # never: keeps linters from calling the loop endless on purpose
        break
