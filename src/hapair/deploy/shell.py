"""Remote commands, built one way: each word quoted where the shell would
read it otherwise (shlex.join: a word of safe characters stays as it is),
commands chained so that each runs only if the one before succeeded.

A unit named after a mount point is where it showed: systemd escapes a
hyphen as `\\x2d` (/srv/room-book -> srv-room\\x2dbook.mount), and an
unquoted `\\x` reaches systemctl as `x`."""

from __future__ import annotations

import shlex


def cmd(*words: str) -> str:
    """One command: its words, each quoted where it needs it."""
    return shlex.join(words)


def then(*commands: str) -> str:
    """Commands run in turn, each only if the one before succeeded."""
    return " && ".join(c for c in commands if c)


def tried(command: str, then_: str = "") -> str:
    """A command tried up to three times a second apart, and `then_` once it
    succeeded; failing if every try failed. In a container, systemd sometimes
    fails a start or restart while it cannot yet kill the old control group
    (seen in the lab: 219/CGROUP)."""
    done = f"{then_}; exit 0" if then_ else "exit 0"
    return f"for try in 1 2 3; do if {command}; then {done}; fi; sleep 1; done; exit 1"


def waited(condition: str, tries: int) -> str:
    """Wait until condition holds, looking every 0.2 s, at most tries times;
    going on either way (the step after it fails if it must)."""
    return f"for i in $(seq {tries}); do {condition} && break; sleep 0.2; done"
