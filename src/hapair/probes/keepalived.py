"""keepalived's notify FIFO: one line a transition, in order.

    INSTANCE "LAB_VIP" MASTER 150

The writer closes the FIFO when keepalived stops (a STOP line comes first), so
a reader must open it again after end of file."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

State = Literal["MASTER", "BACKUP", "FAULT", "STOP", "DELETED", "UNKNOWN"]
STATES: tuple[State, ...] = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")


@dataclass(frozen=True)
class Transition:
    kind: str  # INSTANCE or GROUP
    name: str
    state: State
    priority: int | None


def parse_line(line: str) -> Transition | None:
    """One FIFO line, or None for a line that is not a transition (the agent
    logs it and goes on: a newer keepalived may add kinds of lines)."""
    try:
        parts = shlex.split(line)
    except ValueError:
        return None
    if len(parts) < 3 or parts[0] not in ("INSTANCE", "GROUP"):
        return None
    state: State = parts[2] if parts[2] in STATES else "UNKNOWN"
    priority = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
    return Transition(parts[0], parts[1], state, priority)
