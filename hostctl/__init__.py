"""Plain-Python host control for L4D2 dedicated servers (never imports Django).

- l4d2: the lifecycle verbs: install, update, start, stop, restart, status, kill_strays
- spec: ServerSpec (what a call is told about a server) and ServerStatus (what status reports)
- srcds: a server's files, pid file and console FIFO; launching, reaping and killing srcds
- steamcmd: steamcmd command lines for app 222860, running them, judging their output
- builds: the installed build (appmanifest), the latest one (steamcmd app info), srcds's update notice
- warning: warning a running server's players in the console before it goes down
- process: run_command and CancelToken: run a command, stream its lines, cancel it with its tree
- proctree: find a process's descendants and stop the whole tree (SIGTERM, grace, SIGKILL)
- lines: byte streams to text lines (UTF-8 with replacement, "\\r" redraws, long lines split)
- servercfg: validation of user-supplied settings and the server.cfg written from them
- a2s: A2S_INFO / A2S_PLAYER queries against servers on this host, many at once
- monitor: what the supervisor checks: process alive or dead (pid file), tree CPU and memory
- exits: reaping launched servers the moment they exit, with their exit status, for subscribers
- crash: why a server died (exit status + last console lines), and reading a file's tail
- cvars: the rules for the everyday cvars and the "extra cfg" lines an owner may set
- console: console.log read exactly once by byte position (rotation, holes, start markers, masking)
- logspace: a running server's console.log kept within its disk budget (stored part released)
- modes: modes of server directories and files (0750/0640 whatever the umask)
- a2s: A2S_INFO queries against a server on this host
- config: HostConfig (root, steamcmd, simulate mode, stop grace), built by the Django facade
- errors: HostError, the user-readable reason an operation cannot run
- sim: stand-ins for steamcmd and srcds used by tests and simulate mode
"""
