"""Console lines that srcds turns into a stop, spelled so a first-word check misses them
(security review, issue "Hardening", F8), with the reason the panel answers each with.

The console page, the console WebSocket, a schedule's form and a schedule's run all
refuse them; their tests share this one list.
"""

BUTTONS = "Use the Stop and Restart buttons of the server page instead of"

STOPS_IN_DISGUISE = [
    ('"quit"', f"{BUTTONS} quit."),
    ('"_restart"', f"{BUTTONS} _restart."),
    ("QUIT", f"{BUTTONS} quit."),
    ("alias q quit; q", "alias is refused: an alias can hide any command."),
    ('say hi; "quit"', f"{BUTTONS} quit."),
]
