"""Both agents' decisions as one story: each agent keeps its last decisions
in its status document; merged by time, each line once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hapair.model.status import NodeStatus


@dataclass(frozen=True, order=True)
class Line:
    at: float
    node: str
    role: str
    reason: str
    actions: tuple[str, ...]

    def text(self) -> str:
        stamp = datetime.fromtimestamp(self.at).strftime("%H:%M:%S.%f")[:-3]
        acts = f" -> {', '.join(self.actions)}" if self.actions else ""
        return f"{stamp} {self.node} [{self.role}] {self.reason}{acts}"


def merge(statuses: list[NodeStatus], seen: set[Line]) -> list[Line]:
    """The decisions not seen yet, oldest first (``seen`` is updated)."""
    new = set()
    for s in statuses:
        if s.doc is None:
            continue
        for e in s.doc.history:
            line = Line(float(e.get("at", 0.0)), s.node, str(e.get("role", "")),
                        str(e.get("reason", "")), tuple(map(str, e.get("actions", ()))))
            if line not in seen:
                new.add(line)
    seen |= new
    return sorted(new)
