"""What an agent remembers of its own past for the operator: its recent
decisions, and the times it became the primary with how long that took.

A promotion's figure runs from the first decision that took this node out of
the replica role (the peer judged lost, a switchover asked) to the decision
that found its database writable: the part of a failover this node can see.
The pause a client sees adds the detection before it (the primary's lease)
and the VIP's move; the drills measure that whole pause."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from hapair.agent.roles import Role

# On the way from replica to primary; any other role ends the attempt.
ON_THE_WAY = frozenset({Role.CANDIDATE, Role.PROMOTING, Role.FENCING})


class Journal:
    def __init__(self, decisions: int = 30, promotions: int = 10) -> None:
        self.decisions: deque[dict[str, Any]] = deque(maxlen=decisions)
        self.promotions: deque[dict[str, Any]] = deque(maxlen=promotions)
        self._started: tuple[float, str] | None = None  # (wall time, reason) of leaving replica
        self._lock = threading.Lock()

    def decided(self, wall: float, role: Role, reason: str, actions: list[str]) -> None:
        """A decision that differs from the one before (reason or actions)."""
        with self._lock:
            self.decisions.append({"at": wall, "role": role.value, "reason": reason,
                                   "actions": actions})

    def role_changed(self, wall: float, old: Role, new: Role, reason: str) -> None:
        with self._lock:
            if new in ON_THE_WAY:
                if self._started is None and old in (Role.REPLICA, Role.PAUSED):
                    self._started = (wall, reason)
            elif new is Role.PRIMARY and self._started is not None:
                began, why = self._started
                self.promotions.append({"at": wall, "took_s": round(wall - began, 2),
                                        "why": why})
                self._started = None
            else:
                self._started = None

    def recent(self, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The last n decisions and every remembered promotion, oldest first."""
        with self._lock:
            return list(self.decisions)[-n:], list(self.promotions)
