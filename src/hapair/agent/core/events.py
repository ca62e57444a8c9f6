"""What the threads beside the loop may change of the agent's Memory, each
change a named, typed event, and the one pure function that applies it.

The loop replaces Memory whole with what learn() returns; everything else
(the operator's commands on the HTTP thread, a long action on the task
runner, the action layer) says what happened with one of these, and
`changed` is the only place that turns it into fields. Times are
monotonic seconds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hapair.agent.core.view import Memory, Task


@dataclass(frozen=True)
class Announced:
    """This node said where the VIP is (gratuitous ARP)."""
    at: float


@dataclass(frozen=True)
class ReplicationKicked:
    """Replication (re)started: the primary's count of semi-sync clients
    reaches us a poll or two later."""
    at: float


@dataclass(frozen=True)
class Healed:
    """The agent restarted the application or Apache."""
    at: float


@dataclass(frozen=True)
class PeerPoweredOff:
    """The fence device confirmed the peer off."""
    at: float
    note: str


@dataclass(frozen=True)
class FenceFailed:
    at: float
    note: str


@dataclass(frozen=True)
class FenceChecked:
    """The fence device's periodic check, in words (for `hapair status`)."""
    said: str


@dataclass(frozen=True)
class PeerFenced:
    """This node's promotion fenced the peer through its agent."""
    at: float


@dataclass(frozen=True)
class PromotionFailed:
    """A takeover over a live peer failed after fencing it."""
    at: float
    note: str


@dataclass(frozen=True)
class Promoted:
    """The old primary's word on completeness no longer means anything, and
    the operator's switchover, force and degrade are spent."""


@dataclass(frozen=True)
class FencedBy:
    """The peer fenced this node: it does not reopen until that is settled."""
    by: str
    at: float


@dataclass(frozen=True)
class WritesClosed:
    """A self-fence (the guard) set the database read-only."""
    at: float


@dataclass(frozen=True)
class Draining:
    """Fenced while holding the VIP: it stays until `until` (0: released
    now) for the answers in flight."""
    until: float


@dataclass(frozen=True)
class Paused:
    on: bool


@dataclass(frozen=True)
class Maintenance:
    on: bool


@dataclass(frozen=True)
class Degraded:
    """The operator let the primary commit without its standby."""


@dataclass(frozen=True)
class SwitchoverAsked:
    force: bool
    to: str  # this node


@dataclass(frozen=True)
class SwitchoverDropped:
    """The switchover did not finish in time: asked no more."""


@dataclass(frozen=True)
class TaskChanged:
    task: Task | None


@dataclass(frozen=True)
class RebuildLater:
    """A rebuild failed: the next try from this time on."""
    after: float


@dataclass(frozen=True)
class Stopping:
    """This agent, a replica, stops and has told its peer."""


@dataclass(frozen=True)
class RestartWindow:
    """A restart of this agent in place (agent/restarting.py): its window's
    end (0: none), announced by this agent or inherited by the next one."""
    until: float
    announced: bool = False


@dataclass(frozen=True)
class Restored:
    """A point-in-time restore made this node the primary of a new epoch:
    the old fence, switchover and pause are spent."""


Event = (Announced | ReplicationKicked | Healed | PeerPoweredOff | FenceFailed | FenceChecked
         | PeerFenced | PromotionFailed | Promoted | FencedBy | Draining | WritesClosed | Paused
         | Maintenance | Degraded
         | SwitchoverAsked | SwitchoverDropped | TaskChanged | RebuildLater | Stopping
         | RestartWindow | Restored)

NOTE_MAX = 200  # a note is a line of status, not an error's whole text


def changed(m: Memory, event: Event) -> Memory:
    """Memory after the event."""
    match event:
        case Announced(at=at):
            return replace(m, announced_at=at)
        case ReplicationKicked(at=at):
            return replace(m, replication_kicked=at)
        case Healed(at=at):
            return replace(m, last_heal=at)
        case PeerPoweredOff(at=at, note=note):
            return replace(m, peer_off_at=at, fence_failed_at=0.0, fence_note=note)
        case FenceFailed(at=at, note=note):
            return replace(m, fence_failed_at=at, fence_note=note[:NOTE_MAX])
        case FenceChecked(said=said):
            return replace(m, fence_check=said)
        case PeerFenced(at=at):
            return replace(m, peer_fenced_at=at)
        case PromotionFailed(at=at, note=note):
            return replace(m, promote_failed_at=at, promote_note=note[:NOTE_MAX])
        case Promoted():
            return replace(m, switchover_to="", force=False, degraded=False,
                           peer_complete=False)
        case FencedBy(by=by, at=at):
            return replace(m, fenced_by=by, fenced_at=at)
        case WritesClosed(at=at):
            return replace(m, writes_closed_at=at)
        case Draining(until=until):
            return replace(m, drain_until=until)
        case Paused(on=on):
            return replace(m, paused=on)
        case Maintenance(on=on):
            return replace(m, maintenance=on)
        case Degraded():
            return replace(m, degraded=True)
        case SwitchoverAsked(force=force, to=to):
            return replace(m, switchover_to=to, force=force)
        case SwitchoverDropped():
            return replace(m, switchover_to="", force=False)
        case TaskChanged(task=task):
            return replace(m, task=task)
        case RebuildLater(after=after):
            return replace(m, rebuild_after=after)
        case Stopping():
            return replace(m, stopping=True)
        case RestartWindow(until=until, announced=announced):
            return replace(m, restart_until=until, restart_announced=announced and until > 0)
        case Restored():
            return replace(m, fenced_by="", switchover_to="", paused=False)
