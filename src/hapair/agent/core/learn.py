"""What the agent remembers, learned from what it sees (pure)."""

from __future__ import annotations

from dataclasses import replace

from hapair import gtid
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import Memory, View
from hapair.model.roles import Role
from hapair.model.status import StatusDoc

FENCE_HOLD_S = 15.0  # a fence by a node that never finished promoting lapses after this
# A degraded primary goes back to waiting for its standby once the standby
# replicates from it and is at most this many transactions behind.
DEGRADE_CLEARS_WITHIN_TX = 1000


def fresh_peer(v: View) -> StatusDoc | None:
    return v.peer.status if v.peer.status is not None and v.peer.paths else None


def learn(v: View, cfg: AgentConfig) -> Memory:
    """The memory for this cycle, whole: the view's memory updated by what the
    view shows. The lease times and the operator's intent pass through."""
    m, p = v.memory, fresh_peer(v)
    # A fence holds until our own data names another primary, or for a while
    # if the node that fenced us never finished promoting.
    settled = ((v.db.up and v.db.epoch_primary not in ("", v.node))
               or v.now - m.fenced_at > FENCE_HOLD_S)
    # The patience for a slow check runs from its first timeout in a row: an
    # application that refused (down) and now times out (starting) starts afresh.
    slow = [x for x in (v.app_problem, v.apache_problem) if x]
    m = replace(m, slow_since=(m.slow_since or v.now) if slow and "timed out" in slow[0]
                else 0.0)
    v = replace(v, memory=m)  # health, as judged with the check's patience
    stopped = peer_stopped(v, cfg)
    return replace(
        m,
        complete=_complete(v, cfg),
        # A peer confirmed off cannot have anything we lack: it cannot promote.
        # Nor can one whose agent stopped on purpose: its next one starts incomplete.
        peer_complete=(p.complete if p is not None else
                       False if m.peer_off_at or stopped else m.peer_complete),
        peer_stopped_at=stopped,
        peer_back_until=peer_back(v, cfg),
        fenced_by="" if settled else m.fenced_by,
        unhealthy_since=0.0 if v.healthy else (m.unhealthy_since or v.now),
        vip_since=(m.vip_since or v.now) if v.holds_vip else 0.0,
        vip_lost_at=v.now if m.vip_since and not v.holds_vip else m.vip_lost_at,
        interconnect_since=((m.interconnect_since or v.now) if "interconnect" in v.peer.paths
                            else 0.0),
        degraded=m.degraded and not _peer_caught_up(v, cfg),
        # A fenced peer that answers again is back: fencing it is history.
        peer_off_at=0.0 if p is not None else m.peer_off_at,
    )


def peer_stopped(v: View, cfg: AgentConfig) -> float:
    """Since when the peer is stopped on purpose (0: it is not): its agent,
    a read-only replica that was not promoting, said it stops and that its
    next agent starts incomplete. Cleared by the next agent's first answer.
    With a witness, only once its sync record no longer names the peer
    complete (the primary writes that first, witness_rules.primary_upkeep):
    until then the peer could still promote with the witness's word, and
    this node's lease must bind."""
    m, p = v.memory, fresh_peer(v)
    if p is None:
        return m.peer_stopped_at
    if stops_on_purpose(p) and not _named_complete(v, cfg):
        return m.peer_stopped_at or v.now
    return 0.0


def stops_on_purpose(p: StatusDoc) -> bool:
    """The peer's agent says it stops on purpose, and is a read-only replica
    that was not promoting or fencing (one that is may not be believed)."""
    return p.stopping and p.read_only and p.role not in (Role.PROMOTING, Role.FENCING)


def witnessed(v: View, cfg: AgentConfig) -> bool:
    """The witness's rules apply (witness_rules.py): a witness, and no fence
    devices (with them, powering the peer off comes first and their rules
    decide)."""
    return v.witness is not None and cfg.fence is None


def _named_complete(v: View, cfg: AgentConfig) -> bool:
    """Under the witness's rules, its sync record may name the peer complete
    (it does, or the witness does not answer)."""
    w = v.witness
    return w is not None and witnessed(v, cfg) and (not w.ok or w.complete == cfg.peer)


def peer_back(v: View, cfg: AgentConfig) -> float:
    """Until when (monotonic) the peer's agent restarts in place (0: it does
    not; agent/restarting.py): its status said it is back within so many
    seconds, counted from this node's receiving that answer (later than its
    sending: the window can only come out longer here). Kept while the peer
    is silent, until the window and the margin after it have passed; an
    answer that no longer says it ends it."""
    m, p = v.memory, fresh_peer(v)
    if p is not None:
        return v.peer.answered_at + p.back_within_s if p.back_within_s > 0 else 0.0
    return m.peer_back_until if m.peer_back_until + cfg.margin_s > v.now else 0.0


def _complete(v: View, cfg: AgentConfig) -> bool:
    """This node holds every transaction the primary confirmed.

    It becomes true while the primary waits for acknowledgements (semi-sync
    on: with wait_no_slave and no timeout it confirms nothing unacknowledged),
    this node is its connected replica and has received up to the primary's
    binlog position. It becomes false only on evidence that the primary could
    confirm without us: it reports itself writable and not waiting (semi-sync
    off), or our own database went down (a restart drops the relay log). Our
    replication connection dropping is no such evidence: when the primary
    dies, that is the first thing we see."""
    db, p = v.db, fresh_peer(v)
    if not db.up:
        return False
    if not db.read_only:
        return True
    if p is not None and p.epoch > db.epoch:
        return False  # a newer primary: we do not even have its epoch row yet
    if p is not None and p.writable:
        s = db.slave
        if not p.semi_master_on or p.peer_stopped:
            # (peer_stopped: the primary has not seen this agent yet and is
            # not bound by a lease for it: not complete until it has.)
            return False
        if (p.semi_clients >= 1 and s.io_running
                and cfg.peer_path_of(s.master_host) is not None
                and gtid.contains(s.gtid_io_pos or db.gtid_current_pos, p.gtid_binlog_pos)):
            return True
    return v.memory.complete


def _peer_caught_up(v: View, cfg: AgentConfig) -> bool:
    p = fresh_peer(v)
    return (p is not None and p.replicating and cfg.is_my_address(p.master_host)
            and gtid.behind(p.gtid_binlog_pos, v.db.gtid_binlog_pos) < DEGRADE_CLEARS_WITHIN_TX)
