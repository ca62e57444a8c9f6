"""Processes as /proc shows them: a pure parser of a stat line, and the two
reads built on it (used on the nodes by Apache's reload and on the lab's
host by `lab down`)."""

from __future__ import annotations

from pathlib import Path


def stat_state(stat: str) -> str:
    """A process's state letter from its /proc/PID/stat line ("Z": a zombie,
    exited, its parent has not reaped it). The name field may hold spaces
    and parentheses: the state follows the last ')'."""
    return stat.rpartition(")")[2].split()[0]


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie."""
    try:
        return stat_state(Path(f"/proc/{pid}/stat").read_text()) == "Z"
    except (OSError, IndexError):
        return True


def children(pid: int) -> list[int]:
    """A process's children, zombies included; none when it is gone."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []
