"""The controller's judgement: pure functions of the view.

``learn`` updates what the agent remembers from what it sees; ``decide``
returns the actions for this cycle, whether this node may hold the VIP, and
one sentence saying why. Nothing here does I/O: the table of views and
decisions in tests/unit/test_decide.py is the specification."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hapair.agent import gtid
from hapair.agent.config import AgentConfig
from hapair.agent.view import PATHS, Memory, Path, PeerStatus, View

# ---- actions: what act.py knows how to carry out --------------------------


@dataclass(frozen=True)
class Demote:
    """read_only=ON now (killing commits stuck waiting for an acknowledgement)."""


@dataclass(frozen=True)
class DropVip:
    """Remove the VIP from this node's interface (keepalived is not there to)."""


@dataclass(frozen=True)
class Promote:
    fence_peer: bool  # the peer answers: fence it first, then catch up from it
    semi_sync: bool  # the peer will replicate: confirm nothing it has not got


@dataclass(frozen=True)
class Reopen:
    """This node is the primary by epoch and may take writes again."""

    semi_sync: bool


@dataclass(frozen=True)
class SetSemiSync:
    on: bool


@dataclass(frozen=True)
class Follow:
    """Replicate from the peer over this path (act checks for errant GTIDs)."""

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
class Rebuild:
    """Replace the local data with a backup of the primary (mariadb-backup)."""


Action = (Demote | DropVip | Promote | Reopen | SetSemiSync | Follow | StartReplication
          | Rebuild | LeaveReplication | RestartService | Reconnect)

HEAL_AFTER_S = 3.0  # a failing application or Apache is restarted after this long
HEAL_EVERY_S = 15.0


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    reason: str
    eligible: bool  # may hold the VIP (keepalived's tracked file)
    role: str  # primary, primary (writes paused), replica, candidate, down
    problem: bool = False  # highlight in `hapair status`


FENCE_HOLD_S = 15.0

# ---- memory ----------------------------------------------------------------


def fresh_peer(v: View) -> PeerStatus | None:
    return v.peer.status if v.peer.status is not None and v.peer.paths else None


def learn(v: View, cfg: AgentConfig) -> Memory:
    """Completeness: this node holds every transaction the primary confirmed.

    It becomes true while the primary waits for acknowledgements (semi-sync
    on: with wait_no_slave and no timeout it confirms nothing unacknowledged),
    this node is its connected replica and has received up to the primary's
    binlog position. It becomes false only on evidence that the primary could
    confirm without us: it reports itself writable and not waiting (semi-sync
    off), or our own database went down (a restart drops the relay log). Our
    replication connection dropping is no such evidence: when the primary
    dies, that is the first thing we see."""
    m, db, p = v.memory, v.db, fresh_peer(v)
    complete = m.complete
    if not db.up:
        complete = False
    elif not db.read_only:
        complete = True
    elif p is not None and p.epoch > db.epoch:
        complete = False  # a newer primary: we do not even have its epoch row yet
    elif p is not None and p.writable:
        s = db.slave
        if not p.semi_master_on:
            complete = False
        elif (p.semi_clients >= 1 and s.io_running == "Yes"
              and cfg.peer_path_of(s.master_host) is not None
              and gtid.contains(s.gtid_io_pos or db.gtid_current_pos, p.gtid_binlog_pos)):
            complete = True
    # A fence holds until our own data names another primary, or for a while
    # if the node that fenced us never finished promoting.
    settled = (db.up and db.epoch_primary not in ("", v.node)) or v.now - m.fenced_at > FENCE_HOLD_S
    sick = 0.0 if v.healthy else (m.unhealthy_since or v.now)
    return replace(m, complete=complete,
                   peer_complete=p.complete if p is not None else m.peer_complete,
                   fenced_by="" if settled else m.fenced_by, unhealthy_since=sick)


# ---- decisions ---------------------------------------------------------------


def best_path(v: View) -> Path:
    for path in PATHS:
        if path in v.peer.paths:
            return path
    return "interconnect"


def decide(v: View, cfg: AgentConfig) -> Decision:
    d = _decide(v, cfg)
    heal = _heal(v)
    if heal is None:
        return d
    return replace(d, actions=(*d.actions, heal),
                   reason=f"{d.reason}; restarting {heal.unit} (failing for "
                   f"{v.now - v.memory.unhealthy_since:.0f}s)")


def _heal(v: View) -> RestartService | None:
    m = v.memory
    if (v.healthy or not v.link_ok or not m.unhealthy_since
            or v.now - m.unhealthy_since < HEAL_AFTER_S or v.now - m.last_heal < HEAL_EVERY_S):
        return None
    return RestartService("hapair-app" if not v.app_ok else "apache2")


def _decide(v: View, cfg: AgentConfig) -> Decision:
    if not v.db.up:
        acts: tuple[Action, ...] = (DropVip(),) if v.holds_vip and not v.keepalived_running else ()
        return Decision(acts, f"the local database does not answer ({v.db.error[:80]}): "
                        "this node may not hold the VIP", False, "down", True)
    if not v.db.read_only:
        return _writable(v, cfg)
    return _read_only(v, cfg)


def _vip_gone(v: View) -> tuple[Action, ...]:
    return (DropVip(),) if v.holds_vip else ()


def _writable(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer = cfg.peer
    if not v.keepalived_running:
        return Decision((Demote(), *_vip_gone(v)), "keepalived is not running: writes stop at "
                        "once and the VIP is dropped", False, "primary (fenced)", True)
    if m.fenced_by:
        return Decision((Demote(),), f"{m.fenced_by} fenced this node: writes stop", False,
                        "primary (fenced)", True)
    if p is not None and p.epoch > db.epoch:
        return Decision((Demote(),), f"{peer} holds a newer epoch ({p.epoch} > {db.epoch}): "
                        "writes stop and this node rejoins as a replica", False, "primary (fenced)",
                        True)
    if m.paused:
        return Decision((), "paused: open for writes, no automatic failover", True, "primary")
    if not v.healthy:
        return Decision((Demote(),), f"{v.health_problem}: writes stop so that {peer} can take "
                        "over", False, "primary (fenced)", True)
    if p is not None and p.holds_vip and not v.holds_vip:
        return Decision((Demote(),), f"{peer} holds the VIP: writes stop here", False,
                        "primary (fenced)", True)
    silent = v.now - m.lease_renewed
    if (p is None and not m.degraded and (db.semi_master_enabled or m.peer_complete)
            and silent > cfg.lease_s):
        return Decision((Demote(),), f"{peer} unanswered on every path for {silent:.1f}s: writes "
                        "stop (no witness or fence device: they resume when it returns, or on "
                        "`hapair degrade`)", True, "primary (writes paused)", True)
    want = _semi_wanted(v, cfg)
    acts: tuple[Action, ...] = ()
    if cfg.semi_sync and want != db.semi_master_enabled:
        acts = (SetSemiSync(want),)
    if db.slave.configured:
        acts = (*acts, LeaveReplication())
    return Decision(acts, _primary_sentence(v, cfg, want), True, "primary",
                    m.degraded or not want and cfg.semi_sync)


def _semi_wanted(v: View, cfg: AgentConfig) -> bool:
    """Semi-sync on the primary: on while the peer replicates or may promote."""
    m, p = v.memory, fresh_peer(v)
    if not cfg.semi_sync or m.degraded:
        return False
    if p is None:
        # Unreachable: wait for it (writes pause) if it may hold our commits.
        return m.peer_complete or v.db.semi_master_enabled
    replicating = p.db_up and p.io_running == "Yes" and cfg.is_my_address(p.master_host)
    return replicating or p.complete


def _primary_sentence(v: View, cfg: AgentConfig, semi: bool) -> str:
    p = fresh_peer(v)
    if v.memory.degraded:
        return "primary, degraded on purpose: committing alone until the peer is back"
    if semi and p is not None:
        return f"primary: open for writes, {cfg.peer} replicating (semi-sync)"
    if semi:
        return f"primary: {cfg.peer} unanswered; commits wait for its acknowledgement"
    if not cfg.semi_sync:
        return "primary: open for writes (asynchronous replication)"
    return f"primary: {cfg.peer} is not replicating and knows it is behind: committing alone"


def _read_only(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer_epoch = (p.epoch, p.epoch_primary) if p is not None else (0, "")
    leader = max((db.epoch, db.epoch_primary), peer_epoch)[1]
    holder = v.keepalived_running and v.holds_vip
    if m.paused:
        return Decision((), "paused: no automatic role change", leader == v.node, "paused")
    if m.switchover_to == v.node or (holder and leader != v.node):
        return _promotion(v, cfg)
    if leader == v.node and not m.fenced_by:
        return _paused_primary(v, cfg)
    return _replica(v, cfg)


def _eligible_replica(v: View) -> bool:
    p = fresh_peer(v)
    catching_up = p is not None and p.db_up and v.db.slave.io_running == "Yes"
    return v.healthy and v.keepalived_running and (v.memory.complete or catching_up)


def _promotion(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer = cfg.peer
    planned = m.switchover_to == v.node
    if not v.healthy:
        return Decision((), f"{v.health_problem}: not taking over", False, "replica", True)
    if not planned and db.epoch_age_s < cfg.failover_window_s:
        return Decision((), f"a failover happened {db.epoch_age_s:.0f}s ago (window "
                        f"{cfg.failover_window_s:.0f}s): no automatic failover again so soon",
                        False, "replica", True)
    if p is not None and not planned and v.peer.answered_at < v.vip_since:
        return Decision((), f"this node took the VIP: asking {peer} once more before taking "
                        "over", True, "candidate")
    if p is not None:
        can_catch_up = p.db_up and db.slave.io_running == "Yes"
        if m.complete or can_catch_up or m.force:
            how = "switchover" if planned else "this node holds the VIP"
            return Decision((Promote(True, cfg.semi_sync and p.db_up),),
                            f"{how}: fence {peer}, apply every transaction received, open "
                            "for writes", True, "promoting")
        return Decision((), f"{peer}'s database is down and this node may lack confirmed "
                        "transactions: not promoting (an operator may force it)", False,
                        "replica", True)
    if not (m.complete or m.force):
        return Decision((), f"{peer} is unreachable and this node is not known to hold every "
                        "confirmed transaction: not promoting (an operator may force it)",
                        False, "replica", True)
    wait = cfg.lease_s + cfg.margin_s - (v.now - m.peer_seen)
    if wait > 0:
        return Decision((), f"{peer} unreachable: promoting when its lease has run out "
                        f"({wait:.1f}s)", True, "candidate")
    return Decision((Promote(False, False),), f"{peer} unreachable on every path and its lease "
                    "ran out; this node holds every confirmed transaction: promoting, committing "
                    "alone", True, "promoting")


def _paused_primary(v: View, cfg: AgentConfig) -> Decision:
    """The primary by epoch, read-only: its standby was lost, or it restarted."""
    m, p = v.memory, fresh_peer(v)
    peer = cfg.peer
    if not (v.healthy and v.keepalived_running):
        why = v.health_problem or "keepalived is not running"
        return Decision((), f"primary by epoch, read-only: {why}", False,
                        "primary (writes paused)", True)
    if p is not None and p.holds_vip:
        return Decision((), f"{peer} holds the VIP: waiting for it to take over", True,
                        "primary (writes paused)", True)
    if not v.holds_vip:
        return Decision((), "primary by epoch, read-only: opening only while holding the VIP",
                        True, "primary (writes paused)", True)
    if m.degraded:
        return Decision((Reopen(False),), "degraded on purpose by the operator: committing "
                        "alone", True, "primary")
    if p is not None:
        if p.db_up and p.io_running == "Yes" and cfg.is_my_address(p.master_host):
            return Decision((Reopen(cfg.semi_sync),), f"{peer} replicates again: open for "
                            "writes", True, "primary")
        if not p.complete and p.io_running != "Yes":
            return Decision((Reopen(False),), f"{peer} is not replicating and knows it is "
                            "behind: open for writes, committing alone", True, "primary")
        return Decision((), f"waiting for {peer} to replicate before opening", True,
                        "primary (writes paused)", True)
    if not cfg.semi_sync or not m.peer_complete:
        return Decision((Reopen(False),), f"{peer} unreachable but cannot take over (not "
                        "complete): open for writes alone", True, "primary")
    return Decision((), f"writes paused: standby {peer} lost (no witness or fence device); "
                    "they resume when it returns, or run `hapair degrade` if it is really down",
                    True, "primary (writes paused)", True)


def _replica(v: View, cfg: AgentConfig) -> Decision:
    db, p = v.db, fresh_peer(v)
    peer = cfg.peer
    acts: list[Action] = []
    if db.semi_master_enabled:
        acts.append(SetSemiSync(False))
    s = db.slave
    eligible = _eligible_replica(v)
    if p is None:
        return Decision(tuple(acts), f"replica: {peer} unreachable, waiting", eligible,
                        "replica", True)
    if not p.db_up:
        return Decision(tuple(acts), f"replica: {peer}'s database is down, waiting", eligible,
                        "replica", True)
    path = best_path(v)
    current = cfg.peer_path_of(s.master_host)
    if s.io_errno == 1236 or s.sql_errno:
        acts.append(Rebuild())
        why = s.last_io_error if s.io_errno == 1236 else s.last_sql_error
        return Decision(tuple(acts), f"replication from {peer} cannot go on ({why[:100]}): "
                        "rebuilding this node from a backup of the primary", False, "replica",
                        True)
    if current is None:
        acts.append(Follow(path))
        return Decision(tuple(acts), f"{peer} is the primary: rejoining as its replica over the "
                        f"{path} network", eligible, "replica")
    if current != path:
        acts.append(Follow(path))
        return Decision(tuple(acts), f"replication moves to the {path} network (the {current} "
                        "path does not answer)", eligible, "replica")
    if s.io_running == "No" or s.sql_running == "No":
        acts.append(StartReplication())
        return Decision(tuple(acts), f"replication from {peer} stopped: starting it", eligible,
                        "replica", True)
    if p.semi_master_on and p.semi_clients == 0 and s.io_running == "Yes":
        acts.append(Reconnect())
        return Decision(tuple(acts), f"{peer} waits for a semi-sync acknowledgement but does "
                        "not count this node: reconnecting", eligible, "replica", True)
    lag = gtid.behind(db.gtid_slave_pos, p.gtid_binlog_pos)
    state = "complete" if v.memory.complete else "catching up"
    if not v.healthy:
        state += f", not eligible: {v.health_problem}"
    return Decision(tuple(acts), f"replica of {peer} over the {path} network, {state}, "
                    f"{lag} transactions to apply", eligible, "replica", not eligible)
