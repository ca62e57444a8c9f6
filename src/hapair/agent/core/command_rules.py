"""When the operator's commands may act (pure): each returns why not, or ""
when the command may go ahead. commands.py asks these and carries out the
rest; tests/unit/test_command_rules.py is their table. What they read is a
snapshot of the agent: its last view and decision, its memory, whether the
peer's agent answers."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.agent.core.actions import Decision
from hapair.agent.core.view import Memory, Task, View
from hapair.model.roles import Role


@dataclass(frozen=True)
class Asked:
    """What a command judges by: the agent as it stands when it is asked."""
    node: str
    peer: str
    view: View | None
    decision: Decision | None
    memory: Memory
    peer_answers: bool
    now: float  # monotonic


def writable(a: Asked) -> bool:
    """The writable primary, as the last view saw it, and not fenced since
    (a switchover's fence comes between two views)."""
    v = a.view
    return v is not None and v.db.up and not v.db.read_only and not a.memory.fenced_by


def fence(task: Task | None, node: str, by: str) -> str:
    """A fence from `by` waits for nothing (it reads no snapshot: the task
    under way only), except a promotion of this node under way: of two nodes
    promoting at once and fencing each other, the one whose name sorts first
    goes on (the other's fence is refused here)."""
    if task is not None and task.kind is Role.PROMOTING and node < by:
        return f"{node} is promoting itself"
    return ""


def restore(v: View | None, node: str) -> str:
    """A backup replaces the data only on a node whose database is up and
    read-only (a fenced primary, a replica): never under the writes."""
    if v is None or not v.db.up or not v.db.read_only:
        return f"{node}'s database is not read-only: fence the primary before restoring on it"
    return ""


def maintenance(a: Asked, on: bool) -> str:
    """Out of failover: not the writable primary (the VIP and the writes
    would have nowhere to go; `hapair maintenance` switches over first)."""
    if on and writable(a):
        return (f"{a.node} is the writable primary: switch over first (`hapair maintenance "
                "NODE on` does)")
    return ""


def reboot(a: Asked) -> str:
    """Only a read-only node in maintenance: no reboot ever takes the primary
    or the one node that would take over."""
    if not a.memory.maintenance:
        return f"{a.node} is not in maintenance: `hapair reboot` puts it there first"
    if writable(a):
        return f"{a.node} is the writable primary: switch over first"
    return ""


def degrade(a: Asked) -> str:
    """Only a primary whose writes are paused for a standby that is silent."""
    d = a.decision
    if d is None or d.role is not Role.PRIMARY_PAUSED:
        return (f"{a.node} is not a primary with writes paused (it is: "
                f"{d.role if d else 'starting'})")
    if a.peer_answers:
        return f"{a.peer} answers: nothing to degrade"
    return ""


def switchover(a: Asked, force: bool) -> str:
    """To this node: not already the primary; both nodes answering, unless forced."""
    d = a.decision
    if d is not None and d.role is Role.PRIMARY:
        return f"{a.node} is already the primary"
    if not a.peer_answers and not force:
        return (f"{a.peer} does not answer: a switchover needs both nodes (use --force to "
                "promote anyway)")
    return ""


def restart_in_place(a: Asked) -> str:
    """The primary's agent restarted in place (agent/restarting.py): only the
    writable primary, nothing under way, whose standby answers (only it can
    promise not to take over meanwhile)."""
    v, d, m = a.view, a.decision, a.memory
    if v is None or d is None:
        return f"{a.node} is starting"
    if d.role is not Role.PRIMARY or not v.db.writable:
        return f"{a.node} is not the writable primary (it is: {d.role}): restart it as it is"
    if m.task is not None:
        return f"{a.node} is busy ({m.task.what})"
    if m.fenced_by or m.switchover_to:
        return f"{a.node} is being fenced or switched over"
    if m.restart_announced and m.restart_until > a.now:
        return f"{a.node}'s agent is already restarting in place"
    if not a.peer_answers:
        return (f"{a.node}'s standby does not answer, and only it can promise not to take over "
                "meanwhile: switch over first")
    return ""
