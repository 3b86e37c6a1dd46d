#!/usr/bin/env python3
"""A steamcmd stand-in for the benches (stdlib only; run as HOSTCTL_STEAMCMD).

Accepts steamcmd's argv (`+force_install_dir DIR +login anonymous +app_update
222860 ... +quit`) and, steered by environment variables:

  BENCH_WAIT_GO=1          wait (up to 60 s) until DIR/go exists before printing
  BENCH_PRINT_LINES=N      print N lines as fast as possible (block writes)
  BENCH_TICK_MS=10         print "tick <i> <time.time()>" every that many ms ...
  BENCH_TICK_SECONDS=10    ... for that long (absolute schedule, no drift)
  BENCH_HOLD_SECONDS=S     then keep running S seconds (printing every 100 ms)
  BENCH_IGNORE_TERM=1      ignore SIGTERM, and start a grandchild in its own
                           session (setsid) that ignores SIGTERM too and lives
                           as long as the hold

Ends with steamcmd's success line, so the worker's OutputJudge reports exit 0.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SUCCESS = "Success! App '222860' fully installed."


def line_text(i: int) -> str:
    # ~70 characters, like a steamcmd progress line.
    return f" Update state (0x61) downloading, progress: {i % 10000 / 100:6.2f} (line {i:08d})"


def install_dir(argv):
    if "+force_install_dir" in argv:
        return Path(argv[argv.index("+force_install_dir") + 1])
    return Path.cwd()


def grandchild(hold):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        time.sleep(0.1)


def main(argv):
    if argv[:1] == ["--grandchild"]:
        grandchild(float(argv[1]))
        return 0
    env = os.environ
    out = sys.stdout
    target = install_dir(argv)
    if env.get("BENCH_WAIT_GO") == "1":
        deadline = time.monotonic() + 60
        while not (target / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.002)
    n = int(env.get("BENCH_PRINT_LINES", "0"))
    if n:
        block = 2000
        for start in range(1, n + 1, block):
            out.write("".join(line_text(i) + "\n" for i in range(start, min(start + block, n + 1))))
        out.flush()
    tick_ms = float(env.get("BENCH_TICK_MS", "0"))
    if tick_ms:
        period = tick_ms / 1000
        count = int(float(env.get("BENCH_TICK_SECONDS", "10")) / period)
        t0 = time.monotonic()
        for i in range(1, count + 1):
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out.write(f"tick {i} {time.time():.6f}\n")
            out.flush()
    hold = float(env.get("BENCH_HOLD_SECONDS", "0"))
    if hold:
        if env.get("BENCH_IGNORE_TERM") == "1":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--grandchild",
                    str(hold),
                    "+force_install_dir",
                    str(target),
                ],
                start_new_session=True,  # leaves the job's process group
                stdin=subprocess.DEVNULL,  # keeps the job's stdout/stderr pipes open
            )
            out.write("started a setsid grandchild that ignores SIGTERM\n")
        end = time.monotonic() + hold
        i = 0
        while time.monotonic() < end:
            i += 1
            out.write(f"holding {i}\n")
            out.flush()
            time.sleep(0.1)
    out.write(SUCCESS + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
