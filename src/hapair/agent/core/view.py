"""What one cycle of the agent sees: a frozen view of this node, its peer and
what the agent remembers from earlier cycles. Built by the probes, read by
``learn`` and ``decide``; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from hapair.agent.core.hardware import Hardware
from hapair.model.roles import Role
from hapair.model.status import StatusDoc
from hapair.probes.keepalived import State
from hapair.probes.mariadb import MariaDBState

Path = Literal["interconnect", "public"]
PATHS: tuple[Path, ...] = ("interconnect", "public")

LocalDB = MariaDBState  # the local MariaDB, as the agent's own connection saw it
PeerStatus = StatusDoc  # what the peer's agent published on /status

# A check that timed out (a busy application: every worker waiting) counts
# only after this long: a starting or loaded application is not a dead one.
SLOW_GRACE_S = 10.0
# A service whose checks have timed out this long without a break is taken
# for hung, not busy, and restarted (decide._heal).
BUSY_HEAL_S = 60.0


@dataclass(frozen=True)
class Peer:
    status: PeerStatus | None  # the freshest answer on any path, None if none
    paths: tuple[Path, ...]  # the paths on which its agent answered last round
    answered_at: float = 0.0  # monotonic time of that answer
    # With its agent silent: signs that the peer still runs (its database
    # greets, or a port is refused), e.g. "192.168.57.103:3306"; empty if none.
    host_answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """A long action running beside the loop (a promotion, a rebuild)."""

    kind: Role  # Role.PROMOTING or Role.REBUILDING
    what: str  # "rebuilding from node1"
    since: float  # monotonic


@dataclass(frozen=True)
class Witness:
    """What the witness's etcd said at the keeper's last round (agent/node/witness.py).
    Times are this agent's monotonic clock."""

    ok: bool  # a majority answered the last read
    error: str = ""  # why not
    leader: str = ""  # the leader key's holder ("" none)
    leader_epoch: int = 0
    leader_rev: int = 0  # the key's revision (0: absent)
    # When this agent first saw the leader key at that revision (the answer's
    # arrival: never before its holder wrote it, whose lease runs from sending).
    leader_seen: float = 0.0
    complete: str = ""  # the node the sync record names complete ("" none)
    sync_rev: int = 0
    renewed: float = 0.0  # when this node last wrote the leader key (the send time)


@dataclass(frozen=True)
class Memory:
    """Everything the agent carries from cycle to cycle, and only this: the
    loop replaces it whole with what ``learn`` returns; the operator's
    commands, the long actions and the action layer record events in it
    (agent/core/events.py) under the agent's lock."""

    # This node holds every transaction the primary confirmed (see learn()).
    complete: bool = False
    # Monotonic times: the send time of this agent's last answered poll of the
    # peer (the primary's lease runs from it), and the last sign of life from
    # the peer (its poll of us arriving, or our poll answered).
    lease_renewed: float = 0.0
    peer_seen: float = 0.0
    # The peer's completeness as it last reported it.
    peer_complete: bool = False
    paused: bool = False
    # The operator took this node out of failover (`hapair maintenance`): it
    # replicates, never takes the VIP, never promotes.
    maintenance: bool = False
    degraded: bool = False  # the operator let the primary commit alone
    fenced_by: str = ""  # the peer that fenced us: we do not reopen until it is settled
    fenced_at: float = 0.0
    switchover_to: str = ""  # a planned switchover to this node, asked by the CLI
    # When this node's promotion fenced the peer through its agent: the peer
    # keeps the VIP a moment (commands.DRAIN_S) for the answers in flight.
    peer_fenced_at: float = 0.0
    # Fenced by the peer while holding the VIP: the VIP stays until then
    # (commands.DRAIN_S) for the answers in flight; 0: no drain.
    drain_until: float = 0.0
    # When a self-fence on the guard's thread last closed the database
    # (events.WritesClosed): the loop's view taken before it is out of date.
    writes_closed_at: float = 0.0
    force: bool = False  # promote even if not known complete (operator)
    unhealthy_since: float = 0.0  # the application or Apache failing since (0: healthy)
    slow_since: float = 0.0  # a health check timing out since (0: not timing out)
    last_heal: float = 0.0  # when the agent last restarted one of them
    vip_since: float = 0.0  # when this node last took the VIP (0: it does not hold it)
    vip_lost_at: float = 0.0  # when this node last stopped holding it
    task: Task | None = None  # a long action under way
    rebuild_after: float = 0.0  # a failed rebuild is retried from this time on
    # A takeover over a live peer that failed (after fencing it): when, and why.
    promote_failed_at: float = 0.0
    promote_note: str = ""
    # When this node last (re)started its replication: the primary's count of
    # semi-sync clients reaches us a poll or two later, so we wait that long.
    replication_kicked: float = 0.0
    # Fencing (a fence device per node): when the peer was confirmed powered
    # off (0: it was not, or it has answered since), when a fence last failed,
    # and the last attempt and device check in words (for `hapair status`).
    peer_off_at: float = 0.0
    # A planned stop (agent/stopping.py): this agent, a replica, stops and
    # has said so; or the peer said so (when this node saw it first; 0 once
    # the peer's next agent answers). Without a witness only.
    stopping: bool = False
    peer_stopped_at: float = 0.0
    fence_failed_at: float = 0.0
    fence_note: str = ""
    fence_check: str = ""
    announced_at: float = 0.0  # when this node last said where the VIP is
    # A restart of this node's agent in place (agent/restarting.py): the end
    # of the window in which its database stays open without an agent (0:
    # none); announced by this agent (its status says so), or inherited by
    # the next one from the window's file. And the peer's window as this
    # node took it: no takeover from the peer before its end and the margin.
    restart_until: float = 0.0
    restart_announced: bool = False
    peer_back_until: float = 0.0
    # Since when the peer has answered on the interconnect without a break
    # (0: it does not now): replication returns to it only once it is steady.
    interconnect_since: float = 0.0


@dataclass(frozen=True)
class View:
    now: float  # monotonic
    node: str
    keepalived_running: bool
    vrrp: State  # the last state keepalived reported on its FIFO
    holds_vip: bool
    db: LocalDB
    peer: Peer
    memory: Memory = field(default_factory=Memory)
    # What is wrong with the application, Apache and the VIP's link ("" fine).
    app_problem: str = ""
    apache_problem: str = ""
    link_problem: str = ""
    app_loading: str = ""  # workers still loading the application (health.loading)
    # A writable database's commits stuck on the server itself (db_lease.py).
    commit_problem: str = ""
    witness: Witness | None = None  # None: the spec names no witness
    hardware: Hardware = field(default_factory=Hardware)  # the spec's bonds and array
    # What apply left owed here (a restart, a reload), the roll's to do.
    pending: tuple[str, ...] = ()

    def _counts(self, problem: str) -> bool:
        """A timed-out check (every worker busy) counts only once it has
        lasted SLOW_GRACE_S; a refused connection or an error at once."""
        if not problem:
            return False
        if "timed out" not in problem:
            return True
        since = self.memory.slow_since
        return since > 0 and self.now - since >= SLOW_GRACE_S

    @property
    def app_ok(self) -> bool:
        return not self._counts(self.app_problem)

    @property
    def apache_ok(self) -> bool:
        return not self._counts(self.apache_problem)

    @property
    def link_ok(self) -> bool:
        return not self.link_problem

    def _problems(self) -> list[str]:
        """Those that count now, the database's commits first (it has COMMIT_STUCK_S
        of patience of its own)."""
        found = [p for p in (self.link_problem, self.app_problem, self.apache_problem)
                 if self._counts(p)]
        return [self.commit_problem, *found] if self.commit_problem else found

    @property
    def health_problem(self) -> str:
        found = self._problems()
        return found[0] if found else ""

    @property
    def healthy(self) -> bool:
        return not self._problems()

    @property
    def busy(self) -> bool:
        """Unhealthy only by checks that timed out (past the grace): the
        service is there and slow (saturated, or hung), not refused, failing
        or cut off."""
        found = self._problems()
        return bool(found) and all("timed out" in p for p in found)


def as_closed(v: View | None, m: Memory) -> View | None:
    """The loop's last view as the others read it: a database that a
    self-fence closed after the view was taken (the guard acts while the loop
    may be stuck) is read-only in it."""
    if v is None or v.db.read_only or m.writes_closed_at < v.now:
        return v
    return replace(v, db=replace(v.db, read_only=True))
