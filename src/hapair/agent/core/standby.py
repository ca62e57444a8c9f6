"""The rules for a read-only node (pure): a replica, a candidate that holds
the VIP, or the primary by epoch whose writes are paused."""

from __future__ import annotations

from dataclasses import replace

from hapair import gtid
from hapair.agent.core.actions import (
    Action,
    Decision,
    Follow,
    Promote,
    Rebuild,
    Reconnect,
    Reopen,
    SetSemiSync,
    StartReplication,
)
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.fence_rules import fence_first
from hapair.agent.core.learn import fresh_peer, witnessed
from hapair.agent.core.view import PATHS, Path, View
from hapair.agent.core.witness_rules import (
    fenced_claim,
    go_alone,
    holds_leader,
    may_take_over,
    named_elsewhere,
    partitioned,
    unplanned_promotion,
)
from hapair.model.roles import Condition, Role

# After (re)starting replication, how long the primary may take to count this node
# as a semi-sync client before we reconnect (the count comes through our poll of it).
RECONNECT_PATIENCE_S = 3.0
# How long the interconnect answers without a break before replication returns to it.
RETURN_AFTER_S = 30.0
# A replica that gave the VIP back to a live primary stays out of it this
# long even if the interconnect still seems to answer: a cut is seen by a
# poll that times out (0.5 s), keepalived's missed adverts sooner (0.31 s).
ADVERTS_LOST_HOLD_S = 2.0
# A takeover over a live peer that failed (the peer fenced, this node not
# open) is not tried again for this long: each try fences the peer anew, and
# trying every cycle would keep both closed for good. Longer than a fence
# holds (learn.FENCE_HOLD_S), so the peer may reopen meanwhile.
TAKEOVER_RETRY_S = 30.0


def best_path(v: View) -> Path:
    for path in PATHS:
        if path in v.peer.paths:
            return path
    return "interconnect"


def read_only(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer_epoch = (p.epoch, p.epoch_primary) if p is not None else (0, "")
    leader = max((db.epoch, db.epoch_primary), peer_epoch)[1]
    holder = v.keepalived_running and v.holds_vip
    if m.paused:
        return Decision(reason="paused: no automatic role change", eligible=leader == v.node,
                        role=Role.PAUSED)
    if m.maintenance and leader != v.node and m.switchover_to != v.node:
        return in_maintenance(_replica(v, cfg))
    if m.switchover_to == v.node or (holder and leader != v.node):
        return _promotion(v, cfg)
    if leader == v.node:
        # Fenced: until the fencer publishes its epoch its position is a
        # replica's, and neither following nor judging errant GTIDs by it holds.
        return _paused_primary(v, cfg) if not m.fenced_by else Decision(
            reason=f"fenced by {m.fenced_by}: waiting for it to open for writes",
            eligible=False, role=Role.REPLICA)
    return _replica(v, cfg)


def in_maintenance(d: Decision) -> Decision:
    """A replica the operator took out of failover: it replicates (what the
    replica's rules say), never holds the VIP, never promotes, not even when
    its primary dies; an operator's switchover to it still does. It adds
    no problem of its own (the operator asked for it; `hapair status` says
    so); the replica's own problems stand."""
    return replace(d, eligible=False, reason=f"in maintenance (out of failover): {d.reason}")


def _eligible_replica(v: View) -> bool:
    p = fresh_peer(v)
    catching_up = p is not None and p.db_up and v.db.slave.io_running
    return (v.healthy and v.keepalived_running and (v.memory.complete or catching_up)
            and not adverts_lost(v))


def adverts_lost(v: View) -> bool:
    """The primary is alive and well on the public network, but its VRRP
    adverts (carried on the interconnect, render/keepalived.py) cannot reach
    this node: the interconnect does not answer, or the VIP came here from
    that live primary moments ago. keepalived here would take the VIP from
    it, so this node stays out of the VIP (FAULT) until either changes; if
    the primary then goes silent on every path, it is eligible again."""
    return still_primary(v) and ("interconnect" not in v.peer.paths
                                 or v.now - v.memory.vip_lost_at < ADVERTS_LOST_HOLD_S)


# A peer's status built from a view older than this is a stuck loop's: its
# word that it may hold the VIP no longer counts.
FRESH_VIEW_S = 1.0


def still_primary(v: View) -> bool:
    """The peer is a writable primary that may hold the VIP and is reached
    on the public network (where its VIP lives): its own agent gave nothing
    up, so this node holds the VIP only because keepalived missed the
    peer's adverts (a starved host) or took a forged one. A peer that gave
    up (ineligible, read-only, its keepalived down or in FAULT), answers
    only on the interconnect (its public path is broken) or whose loop is
    stuck is taken over as before."""
    return not gave_up(v)


def gave_up(v: View) -> str:
    """Why the peer is not still_primary, in words ("" when it is)."""
    p = fresh_peer(v)
    if p is None:
        return "it does not answer"
    if p.read_only or not p.eligible:
        return "it is " + ("read-only" if p.read_only else "not eligible")
    if not p.keepalived_running or p.vrrp not in ("MASTER", "BACKUP"):
        return f"its keepalived is {p.vrrp if p.keepalived_running else 'not running'}"
    if p.view_age_s >= FRESH_VIEW_S:
        return f"its view is {p.view_age_s:.2f}s old (its loop is stuck)"
    if "public" not in v.peer.paths:
        return "it answers only on the interconnect"
    return ""


def _not_promoting(why: str) -> Decision:
    return Decision(reason=why, eligible=False, role=Role.REPLICA, problem=True)


def _promotion(v: View, cfg: AgentConfig) -> Decision:
    m, db, p = v.memory, v.db, fresh_peer(v)
    peer = cfg.peer
    planned = m.switchover_to == v.node
    if not v.healthy:
        return _not_promoting(f"{v.health_problem}: not taking over")
    if not planned and db.epoch_age_s < cfg.failover_window_s:
        return _not_promoting(f"a failover happened {db.epoch_age_s:.0f}s ago (window "
                              f"{cfg.failover_window_s:.0f}s): no automatic failover again so "
                              "soon")
    if p is not None and not planned and v.peer.answered_at < m.vip_since:
        return Decision(reason=f"this node took the VIP: asking {peer} once more before taking "
                        "over", eligible=True, role=Role.CANDIDATE)
    if p is not None and not planned and not m.force and still_primary(v):
        return _not_promoting(f"the VIP came here, but {peer} is a writable primary that "
                              "answers on the public network and may hold it (an advert was "
                              "late or forged): not taking over; the VIP goes back")
    if p is not None and not planned and not m.force and may_take_over(v):
        return _not_promoting(f"{may_take_over(v)}: not taking over")
    retry = m.promote_failed_at + TAKEOVER_RETRY_S - v.now
    if p is not None and not planned and m.promote_failed_at and retry > 0:
        return _not_promoting(f"a takeover from {peer} failed ({m.promote_note}): not trying "
                              f"again for {retry:.0f}s; the VIP goes back and {peer}, its "
                              "fence lapsed, may open again")
    if p is not None:
        can_catch_up = p.db_up and db.slave.io_running
        if m.complete or can_catch_up or m.force:
            how = "switchover" if planned else "this node holds the VIP"
            why = "" if planned or m.force else f" ({peer}: {gave_up(v)})"
            return Decision(actions=(Promote(close_peer=True,
                                             semi_sync=cfg.semi_sync and p.db_up,
                                             claim=fenced_claim(v)),),
                            reason=f"{how}: fence {peer}, apply every transaction received, "
                            f"open for writes{why}", eligible=True, role=Role.PROMOTING)
        return _not_promoting(f"{peer}'s database is down and this node may lack confirmed "
                              "transactions: not promoting (an operator may force it)")
    if not (m.complete or m.force):
        return _not_promoting(f"{peer} is unreachable and this node is not known to hold every "
                              "confirmed transaction: not promoting (an operator may force it)")
    # Its lease, or the window of its agent's restart in place, whichever
    # ends later (its database stays open that long: agent/restarting.py).
    lease_out = max(m.peer_seen + cfg.lease_s, m.peer_back_until) + cfg.margin_s
    if witnessed(v, cfg) and not m.force:
        return unplanned_promotion(v, cfg, lease_out)
    if lease_out > v.now:
        what = ("the window of its agent's restart in place has ended" if m.peer_back_until
                else "its lease has run out")
        return Decision(reason=f"{peer} unreachable: promoting when {what} "
                        f"({lease_out - v.now:.1f}s)", eligible=True, role=Role.CANDIDATE)
    promote = Decision(actions=(Promote(close_peer=False, semi_sync=False,
                                        claim=fenced_claim(v)),),
                       reason=f"{peer} unreachable on every path and its lease ran out; this "
                       "node holds every confirmed transaction: promoting, committing alone",
                       eligible=True, role=Role.PROMOTING)
    if cfg.fence is None:
        return promote
    return fence_first(v, cfg, why=f"{peer} unreachable on every path", acting="promoting",
                       role=Role.CANDIDATE, not_before=lease_out + cfg.fence.delay_s,
                       then=promote)


def _paused(why: str, eligible: bool = True, *,
            condition: Condition = Condition.NONE) -> Decision:
    return Decision(reason=why, eligible=eligible, role=Role.PRIMARY_PAUSED, problem=True,
                    condition=condition)


def _reopen(why: str, semi_sync: bool) -> Decision:
    return Decision(actions=(Reopen(semi_sync=semi_sync),), reason=why, eligible=True,
                    role=Role.PRIMARY)


def _paused_primary(v: View, cfg: AgentConfig) -> Decision:
    """The primary by epoch, read-only: its standby was lost, or it restarted."""
    m, p = v.memory, fresh_peer(v)
    peer = cfg.peer
    if not (v.healthy and v.keepalived_running):
        why = v.health_problem or "keepalived is not running"
        return _paused(f"primary by epoch, read-only: {why}", eligible=False)
    if p is not None and p.holds_vip:
        return _paused(f"{peer} holds the VIP: waiting for it to take over")
    if p is None and witnessed(v, cfg) and not holds_leader(v, cfg):
        return go_alone(v, cfg, Role.PRIMARY_PAUSED)  # no majority: not eligible either
    if not v.holds_vip:
        return _paused("primary by epoch, read-only: opening only while holding the VIP")
    named = named_elsewhere(v)
    if named:
        return _paused(f"primary by epoch, read-only: {named}", eligible=False)
    if m.degraded:
        return _reopen("degraded on purpose by the operator: committing alone", False)
    if p is not None:
        if p.db_up and p.replicating and cfg.is_my_address(p.master_host):
            return _reopen(f"{peer} replicates again: open for writes", cfg.semi_sync)
        if not p.complete and not p.replicating:
            return _reopen(f"{peer} is not replicating and knows it is behind: open for writes, "
                           "committing alone", False)
        return _paused(f"waiting for {peer} to replicate before opening")
    if not cfg.semi_sync or not m.peer_complete:
        why = ("was powered off through its fence device" if m.peer_off_at
               else "unreachable but cannot take over (not complete)")
        return _reopen(f"{peer} {why}: open for writes alone", False)
    if witnessed(v, cfg):
        return go_alone(v, cfg, Role.PRIMARY_PAUSED)
    if cfg.fence is not None:
        return fence_first(v, cfg, why=f"standby {peer} lost", acting="committing alone",
                           role=Role.PRIMARY_PAUSED, not_before=v.now,
                           then=_reopen("unreachable", False))
    return _paused(f"writes paused: standby {peer} lost (no witness or fence device); they "
                   "resume when it returns, or run `hapair degrade` if it is really down",
                   condition=Condition.STANDBY_LOST)


def _replica(v: View, cfg: AgentConfig) -> Decision:
    db, p, m = v.db, fresh_peer(v), v.memory
    peer = cfg.peer
    acts: list[Action] = []
    if db.semi_sync_master:
        acts.append(SetSemiSync(on=False))
    s = db.slave
    eligible = _eligible_replica(v)

    def say(why: str, ok: bool = eligible, problem: bool = False) -> Decision:
        return Decision(actions=tuple(acts), reason=why, eligible=ok, role=Role.REPLICA,
                        problem=problem)

    if p is None:
        if partitioned(v, cfg):
            # Holding the VIP here would pull clients away from the primary.
            return say(f"replica: {peer} is silent here but renews its leader key with the "
                       "witness (a partition): waiting, not eligible for the VIP", False, True)
        if m.peer_back_until > v.now:
            # (No seconds in the words: they would make a new log line every cycle.)
            return say(f"replica: {peer}'s agent restarts in place, its database open: "
                       "waiting, no takeover before its window ends")
        return say(f"replica: {peer} unreachable, waiting", problem=True)
    if not p.db_up:
        return say(f"replica: {peer}'s database is down, waiting", problem=True)
    path = best_path(v)
    current = cfg.peer_path_of(s.master_host)
    if (current is not None and current != path and current in v.peer.paths
            and v.now - v.memory.interconnect_since < RETURN_AFTER_S):
        # Each move stops replication, and the primary's commits wait for the
        # new connection's first acknowledgement: a working path is kept
        # until the preferred one has answered steadily (no flapping back
        # into a link that has just come back).
        path = current
    why_rebuild = s.broken
    if not why_rebuild and current != path:
        try:  # what a Follow would meet: transactions the primary never had
            wrong = gtid.errant(db.gtid_current_pos, p.gtid_current_pos or p.gtid_binlog_pos,
                                cfg.peer_server_id)
        except ValueError as exc:
            return say(f"cannot compare GTIDs with {peer} ({exc}): not following", False, True)
        if wrong:
            why_rebuild = (f"this node holds transactions {','.join(wrong)} that the primary "
                           "lacks")
    if why_rebuild:
        wait = v.memory.rebuild_after - v.now
        if wait > 0:
            return say(f"{why_rebuild[:100]}; the last rebuild failed, next attempt in "
                       f"{wait:.0f}s", False, True)
        acts.append(Rebuild(path=path))
        return say(f"replication from {peer} cannot go on ({why_rebuild[:100]}): rebuilding "
                   "this node from a backup of the primary, not patching", False, True)
    if current is None:
        acts.append(Follow(path=path))
        return say(f"{peer} is the primary: rejoining as its replica over the {path} network")
    if current != path:
        acts.append(Follow(path=path))
        why = (f"the {current} path does not answer" if current not in v.peer.paths else
               f"the {path} path has answered for {RETURN_AFTER_S:.0f}s")
        return say(f"replication moves to the {path} network ({why})")
    if s.stopped:
        acts.append(StartReplication())
        return say(f"replication from {peer} stopped: starting it", problem=True)
    if p.semi_master_on and p.semi_clients == 0 and s.io_running:
        if v.now - v.memory.replication_kicked < RECONNECT_PATIENCE_S:
            # The peer's count reaches us a poll or two after we connect: a
            # reconnect now would itself make the next count 0, and so on.
            return say(f"{peer} does not count this node as a semi-sync client yet: "
                       "waiting for its count", problem=True)
        acts.append(Reconnect())
        return say(f"{peer} waits for a semi-sync acknowledgement but does not count this "
                   "node: reconnecting", problem=True)
    lag = gtid.behind(db.gtid_slave_pos, p.gtid_binlog_pos)
    state = "complete" if v.memory.complete else "catching up"
    if not v.healthy:
        state += f", not eligible: {v.health_problem}"
    elif adverts_lost(v):
        state += (f", not eligible: {peer} is a live primary whose VRRP adverts cannot reach "
                  "this node (the interconnect is down or was a moment ago)")
    return say(f"replica of {peer} over the {path} network, {state}, {lag} transactions to "
               "apply", problem=not eligible)

