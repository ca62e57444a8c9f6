"""What an agent remembers of its own past for the operator: its recent
decisions, the times it became the primary with how long that took, and the
times its database was closed for it by a self-fence (the guard, the lease
watch inside the database, the stop hook) with how long each took beside
what the timing inequality allows it (spec/lease.py).

A promotion's figure runs from the first decision that took this node out of
the replica role (the peer judged lost, a switchover asked) to the decision
that found its database writable: the part of a failover this node can see.
The pause a client sees adds the detection before it (the primary's lease)
and the VIP's move; the drills measure that whole pause."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, NamedTuple

from hapair.model.roles import Role


class Recent(NamedTuple):
    decisions: list[dict[str, Any]]
    promotions: list[dict[str, Any]]
    self_fences: list[dict[str, Any]]


# On the way from replica to primary; any other role ends the attempt.
ON_THE_WAY = frozenset({Role.CANDIDATE, Role.PROMOTING, Role.FENCING})


class Journal:
    def __init__(self, decisions: int = 30, promotions: int = 10) -> None:
        self.decisions: deque[dict[str, Any]] = deque(maxlen=decisions)
        self.promotions: deque[dict[str, Any]] = deque(maxlen=promotions)
        self.self_fences: deque[dict[str, Any]] = deque(maxlen=promotions)
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

    def self_fenced(self, wall: float, by: str, took_s: float, budget_s: float,
                    what: str) -> None:
        """took_s: the measured term (what: of what), budget_s: what the
        timing inequality allows it."""
        with self._lock:
            self.self_fences.append({"at": wall, "by": by, "took_s": round(took_s, 3),
                                     "budget_s": budget_s, "what": what})

    def recent(self, n: int) -> Recent:
        """The last n decisions, every remembered promotion and self-fence,
        oldest first."""
        with self._lock:
            return Recent(list(self.decisions)[-n:], list(self.promotions),
                          list(self.self_fences))
