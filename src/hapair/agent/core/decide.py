"""The controller's judgement: pure functions of the view.

``decide`` returns the actions for this cycle, whether this node may hold the
VIP, its role, and one sentence saying why. This module and the rules it
calls (``standby``) do no I/O: the table of views and decisions in
tests/unit/test_decide.py is the specification. What the agent remembers is
learned first (``learn``)."""

from __future__ import annotations

from dataclasses import replace

from hapair import gtid
from hapair.agent.core.actions import (
    SAFE_ANY_TIME,
    Action,
    Decision,
    Demote,
    DropVip,
    LeaveReplication,
    ReleaseAcks,
    RestartService,
    SetSemiSync,
)
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.fence_rules import fence_first
from hapair.agent.core.learn import fresh_peer, witnessed
from hapair.agent.core.lease_rules import peer_may_take_over, run_out
from hapair.agent.core.standby import read_only
from hapair.agent.core.view import BUSY_HEAL_S, View
from hapair.agent.core.witness_rules import (
    announce,
    go_alone,
    named_elsewhere,
    primary_upkeep,
)
from hapair.model.roles import Condition, Role

HEAL_AFTER_S = 3.0  # a failing application or Apache is restarted after this long
HEAL_EVERY_S = 15.0


def decide(v: View, cfg: AgentConfig) -> Decision:
    d = _decide(v, cfg)
    heal = _heal(v)
    if heal is not None:
        d = replace(d, actions=(*d.actions, heal),
                    reason=f"{d.reason}; restarting {heal.unit} (failing for "
                    f"{v.now - v.memory.unhealthy_since:.0f}s)")
    task = v.memory.task
    if task is None:
        return d
    # A long action is under way: say so, keep judging, carry out only what closes.
    kept = tuple(a for a in d.actions if isinstance(a, SAFE_ANY_TIME))
    held = [type(a).__name__ for a in d.actions if not isinstance(a, SAFE_ANY_TIME)]
    return replace(d, actions=kept, role=task.kind,
                   reason=f"{task.what} (under way); meanwhile: {d.reason}"
                   + (f" [held: {', '.join(held)}]" if held else ""))


def _heal(v: View) -> RestartService | None:
    """A failing application or Apache is restarted; a busy one (its checks
    time out) only once that has lasted BUSY_HEAL_S: a restart would drop
    every request it is working through. Neither is restarted for the
    database's own stuck commits (a restart would mend nothing there)."""
    m = v.memory
    if v.app_ok and v.apache_ok:
        return None  # healthy, or the VIP's link or the commits are what fails
    if (not v.link_ok or not m.unhealthy_since
            or v.now - m.unhealthy_since < HEAL_AFTER_S or v.now - m.last_heal < HEAL_EVERY_S
            or (v.busy and v.now - m.slow_since < BUSY_HEAL_S)):
        return None
    return RestartService("hapair-app" if not v.app_ok else "apache2")


def _decide(v: View, cfg: AgentConfig) -> Decision:
    if not v.db.up:
        acts: tuple[Action, ...] = (DropVip(),) if v.holds_vip and not v.keepalived_running else ()
        return Decision(actions=acts, reason=f"the local database does not answer "
                        f"({v.db.error[:80]}): this node may not hold the VIP",
                        eligible=False, role=Role.DOWN, problem=True)
    if not v.db.read_only:
        return _writable(v, cfg)
    return read_only(v, cfg)


# A peer this node has just fenced keeps the VIP a moment for the answers in
# flight (commands.DRAIN_S, 0.25 s); its status reaches us a poll later.
VIP_DRAIN_GRACE_S = 1.0


def _vip_gone(v: View) -> tuple[Action, ...]:
    return (DropVip(),) if v.holds_vip else ()


def _closing(why: str, *actions: Action) -> Decision:
    """A writable node that must stop writes now."""
    return Decision(actions=(Demote(), *actions), reason=why, eligible=False,
                    role=Role.PRIMARY_FENCED, problem=True)


def _serves_better(v: View) -> bool:
    """Whether the peer, answering now, is a complete replica whose own
    application and Apache are well and that may take the VIP: a busy
    primary gives way to such a peer only, never to one as starved."""
    p = fresh_peer(v)
    return (p is not None and p.read_only and p.app_ok and p.apache_ok and p.eligible
            and not p.health_problem and v.memory.peer_complete)


def _writable(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer = cfg.peer
    if not v.keepalived_running:
        return _closing("keepalived is not running: writes stop at once and the VIP is dropped",
                        *_vip_gone(v))
    if m.fenced_by:
        return _closing(f"{m.fenced_by} fenced this node: writes stop")
    if p is not None and p.epoch > db.epoch:
        return _closing(f"{peer} holds a newer epoch ({p.epoch} > {db.epoch}): writes stop "
                        "and this node rejoins as a replica")
    named = named_elsewhere(v)
    if named:
        return _closing(f"{named}: writes stop and this node rejoins as a replica")
    if m.paused:
        return Decision(reason="paused: open for writes, no automatic failover", eligible=True,
                        role=Role.PRIMARY)
    # Busy, not dead: the checks time out, and the peer would serve no
    # better (it is as starved, or not ready): the VIP stays, and so do writes.
    busy = "" if v.healthy or not v.busy or _serves_better(v) else (
        f"{v.health_problem}, and {peer} would serve no better: busy, not dead, this node "
        "keeps the VIP; ")
    if not v.healthy and not busy:
        return _closing(f"{v.health_problem}: writes stop so that {peer} can take over")
    # The peer holds the VIP: writes stop here once it is taking over (a
    # replica that got the VIP from a late or forged advert gives it back).
    # Not for a peer of an older epoch: a primary resuming from a pause,
    # whose keepalived adverts its old priority before its agent can lower
    # it. Its writes are refused (its lease ran out) and it gives the VIP
    # back as soon as its agent sees this newer epoch; closing here killed
    # this node's sessions and cost 7.45 s on a starved host (#28).
    if (p is not None and p.holds_vip and not v.holds_vip and p.epoch >= db.epoch
            and v.now - m.peer_fenced_at > VIP_DRAIN_GRACE_S
            and (not p.read_only or p.role in (Role.PROMOTING, Role.FENCING))):
        return _closing(f"{peer} holds the VIP: writes stop here")
    silent = v.now - m.lease_renewed
    # (Not within this agent's own restart in place: the standby took its
    # window, and its first answer to the next agent may not be in yet.)
    lost = (p is None and peer_may_take_over(m, db.semi_sync_master)
            and run_out(silent, cfg.lease_s, v.now, m.restart_until))
    if lost and witnessed(v, cfg):
        return go_alone(v, cfg, Role.PRIMARY)
    if lost and cfg.fence is not None:
        # The standby cannot promote without powering this node off first, so
        # writes stay open (commits wait for an acknowledgement) while it is fenced.
        return fence_first(v, cfg, why=f"standby {peer} lost", acting="committing alone",
                           role=Role.PRIMARY, not_before=v.now,
                           then=Decision(actions=(SetSemiSync(on=False),),
                                         reason=_primary_sentence(v, cfg, False),
                                         eligible=True, role=Role.PRIMARY))
    if lost:
        return Decision(actions=(Demote(),), reason=f"{peer} unanswered on every path for "
                        f"{silent:.1f}s: writes stop (no witness or fence device: they resume "
                        "when it returns, or on `hapair degrade`)", eligible=True,
                        role=Role.PRIMARY_PAUSED, problem=True, condition=Condition.STANDBY_LOST)
    want = _semi_wanted(v, cfg)
    acts: tuple[Action, ...] = ()
    if cfg.semi_sync and want != db.semi_sync_master:
        acts = (SetSemiSync(want),)
    if db.slave.configured:
        acts = (*acts, LeaveReplication())
    acts = (*acts, *primary_upkeep(v, cfg, want))
    if held := acks_lost(v):
        acts = (*acts, ReleaseAcks(held))
    adverts_cut = p is not None and "interconnect" not in v.peer.paths
    if cfg.semi_sync and not want or p is not None and p.holds_vip or adverts_cut:
        # Committing alone: the peer is away or rejoining, and may have held
        # the VIP during a partition (it then drops it: clients must come back).
        # Or our adverts cannot reach the peer (they travel the interconnect):
        # its keepalived takes the VIP a moment and gives it back, and clients
        # must come back (a poll could miss that moment: 9.5 s without a
        # booking on the pair, the clients' ARP pointing at the peer).
        acts = (*acts, *announce(v))
    return Decision(actions=acts, reason=busy + _primary_sentence(v, cfg, want), eligible=True,
                    role=Role.PRIMARY,
                    problem=bool(busy) or m.degraded or not want and cfg.semi_sync)


def acks_lost(v: View) -> str:
    """What the replica reports holding, when commits wait for an
    acknowledgement although it holds everything this node has written
    ("" otherwise): the answers were lost (its connection moved to the other
    network while they were on their way), and a replica that reconnects is
    not sent again what it has. The waiting commit holds the binary log, so
    no later transaction comes to be acknowledged for it, and the waiting
    commits hold the application's workers: seen, 11.5 s without a booking
    until the health check closed the node."""
    p, db = fresh_peer(v), v.db
    if p is None or not db.semi.master_on or db.semi.waiting_sessions == 0:
        return ""
    held = p.gtid_io_pos or p.gtid_current_pos
    try:
        return held if gtid.received_all(held, db.gtid_binlog_pos) else ""
    except ValueError:
        return ""


def _semi_wanted(v: View, cfg: AgentConfig) -> bool:
    """Semi-sync on the primary: on while the peer replicates or may promote."""
    m, p = v.memory, fresh_peer(v)
    if not cfg.semi_sync or m.degraded:
        return False
    if p is None and m.peer_stopped_at:
        # Its agent stopped on purpose: it cannot promote; its database's
        # acknowledgements are kept while it sends them.
        return v.db.semi.master_clients >= 1
    if p is None:
        # Unreachable: wait for it (writes pause) if it may hold our commits,
        # unless it was powered off through its fence device.
        return not m.peer_off_at and (m.peer_complete or v.db.semi_sync_master)
    replicating = p.db_up and p.replicating and cfg.is_my_address(p.master_host)
    return replicating or p.complete


def _primary_sentence(v: View, cfg: AgentConfig, semi: bool) -> str:
    p = fresh_peer(v)
    if v.memory.degraded:
        return "primary, degraded on purpose: committing alone until the peer is back"
    if semi and p is not None:
        return f"primary: open for writes, {cfg.peer} replicating (semi-sync)"
    if v.memory.peer_stopped_at and p is None:
        how = "with its database's acknowledgements" if semi else "alone"
        return (f"primary: {cfg.peer}'s agent stopped on purpose (a restart; it cannot "
                f"promote): committing {how} until its next agent answers")
    if semi:
        return f"primary: {cfg.peer} unanswered; commits wait for its acknowledgement"
    if not cfg.semi_sync:
        return "primary: open for writes (asynchronous replication)"
    if v.memory.peer_off_at:
        return f"primary: {cfg.peer} was powered off through its fence device: committing alone"
    return f"primary: {cfg.peer} is not replicating and knows it is behind: committing alone"
