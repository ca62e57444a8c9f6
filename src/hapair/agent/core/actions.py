"""What ``decide`` can ask for, and its answer: the actions ``act`` knows how
to carry out, and the Decision (actions, eligibility, role, one sentence)."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.agent.core.view import Path
from hapair.model.roles import Condition, Role


@dataclass(frozen=True)
class Demote:
    """read_only=ON now (killing commits stuck waiting for an acknowledgement)."""


@dataclass(frozen=True)
class DropVip:
    """Remove the VIP from this node's interface (keepalived is not there to)."""


@dataclass(frozen=True)
class Claim:
    """Take the witness's leader key before opening, by compare-and-swap: at
    ``leader_rev`` (None: whatever revision it has now, the old holder was
    fenced), and only while the sync record is at ``sync_rev`` and names this
    node (None: not checked, the peer was fenced and caught up from)."""

    leader_rev: int | None
    sync_rev: int | None


@dataclass(frozen=True)
class Promote:
    close_peer: bool  # the peer answers: fence it first, then catch up from it
    semi_sync: bool  # the peer will replicate: confirm nothing it has not got
    claim: Claim | None = None  # with a witness: the leader key to take first


@dataclass(frozen=True)
class ClaimLeader:
    """The primary takes the witness's leader key (absent, or left by an older
    epoch): its keeper renews it from then on."""


@dataclass(frozen=True)
class WriteSync:
    """The leader records which node is complete ("" none) in the witness."""

    complete: str


@dataclass(frozen=True)
class ReleaseAcks:
    """Commits wait for acknowledgements the replica's moved connection lost:
    it reported receiving ``held``, which covered this node's binary log.
    The waiting statements are let go (KILL QUERY ID), only after the binary
    log, read after them, is found within ``held`` again: the replica has
    every one, as an acknowledgement would have said."""

    held: str


@dataclass(frozen=True)
class Reopen:
    """This node is the primary by epoch and may take writes again."""

    semi_sync: bool


@dataclass(frozen=True)
class Announce:
    """Say where the VIP is (gratuitous ARP): after a partition both nodes held
    it, and clients may still send to the other one's address."""


@dataclass(frozen=True)
class SetSemiSync:
    on: bool


@dataclass(frozen=True)
class Follow:
    """Replicate from the peer over this path (by GTID, from all we have)."""

    path: Path


@dataclass(frozen=True)
class StartReplication:
    pass


@dataclass(frozen=True)
class RestartService:
    """systemd should have restarted it; it has not (the check still fails)."""

    unit: str


@dataclass(frozen=True)
class LeaveReplication:
    """A primary still configured as a replica (after a promotion whose IO
    thread was stopping in the background): finish leaving."""


@dataclass(frozen=True)
class Reconnect:
    """Restart the receiving thread: a replica connected while the primary's
    semi-sync was off is not counted as a semi-sync client when it comes on."""


@dataclass(frozen=True)
class FencePeer:
    """Power the peer off through its fence device, and make sure it is off
    (the device says so and the node answers on no path)."""


@dataclass(frozen=True)
class Rebuild:
    """Replace the local data with a backup of the primary (mariadb-backup),
    streamed over this path."""

    path: Path


Action = (Demote | DropVip | Promote | Reopen | SetSemiSync | Follow | StartReplication
          | Rebuild | LeaveReplication | RestartService | Reconnect | FencePeer | ClaimLeader
          | WriteSync | Announce | ReleaseAcks)

# Actions that only close things: carried out even while a long action runs.
SAFE_ANY_TIME = (Demote, DropVip, Announce)


@dataclass(frozen=True, kw_only=True)
class Decision:
    actions: tuple[Action, ...] = ()
    reason: str
    eligible: bool  # may hold the VIP (keepalived's tracked file)
    role: Role
    problem: bool = False  # highlight in `hapair status`
    condition: Condition = Condition.NONE
