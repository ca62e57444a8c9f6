"""The rules a witness adds (pure), in the spirit of Patroni's synchronous
mode: only the holder of the leader key may be writable; the sync record,
written by the leader only, names the node that holds every confirmed
transaction; a node takes the leader key only while the sync record names
it, in the same compare-and-swap. So when the standby is lost, the leader
records that it is no longer complete and commits alone, and a standby that
was cut off can never promote over what was committed without it."""

from __future__ import annotations

from hapair.agent.core.actions import (
    Action,
    Announce,
    Claim,
    ClaimLeader,
    Decision,
    Demote,
    Promote,
    Reopen,
    SetSemiSync,
    WriteSync,
)
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.learn import fresh_peer, stops_on_purpose
from hapair.agent.core.view import View, Witness
from hapair.model.roles import Condition, Role

# The leader key renewed this long after the peer's last answer here: the
# peer is alive, cut from this node only (a partition, not a failure).
ALIVE_AFTER_S = 0.5
ANNOUNCE_EVERY_S = 2.0  # while the standby is lost, the primary says where the VIP is


def holds_leader(v: View, cfg: AgentConfig) -> bool:
    """This node wrote the leader key within the lease, with a majority behind it."""
    w = v.witness
    return (w is not None and w.ok and w.leader == v.node
            and v.now - w.renewed <= cfg.lease_s)


def named_elsewhere(v: View) -> str:
    """Why the witness forbids this node to be writable ("" it does not):
    the leader key names the peer at this node's epoch or a newer one."""
    w = v.witness
    if w is None or not w.ok or not w.leader or w.leader == v.node:
        return ""
    if w.leader_epoch < v.db.epoch:
        return ""  # left by an older primary (a failover while etcd was down)
    return f"the witness names {w.leader} the leader (epoch {w.leader_epoch})"


def partitioned(v: View, cfg: AgentConfig) -> bool:
    """The peer is silent here but alive: its leader key changed after its
    last answer here, and within the lease. A dead peer's key stops changing
    when it dies, and after the lease this is no longer believed."""
    w = v.witness
    if w is None or not w.ok or w.leader != cfg.peer:
        return False
    fresh = v.now - w.leader_seen <= cfg.lease_s + cfg.margin_s
    return fresh and w.leader_seen - v.memory.peer_seen > ALIVE_AFTER_S


def primary_upkeep(v: View, cfg: AgentConfig, semi_on: bool) -> tuple[Action, ...]:
    """A primary with its standby: take the leader key if nobody holds it for
    this epoch; name the standby complete once semi-sync counts it and it has
    received everything."""
    w = v.witness
    if w is None or not w.ok:
        return ()
    if w.leader != v.node:
        return (ClaimLeader(),)
    p = fresh_peer(v)
    if (p is not None and stops_on_purpose(p) and w.complete == cfg.peer
            and holds_leader(v, cfg)):
        # A standby whose agent stops on purpose (a reboot, a new hapair):
        # recorded no longer complete first, while it still answers; then
        # this node may commit without waiting for it (learn.peer_stopped),
        # and the standby leaves once it reads that (agent/stopping.py).
        # Waited for as lost instead: 1-2 s without a booking in a reboot.
        return (WriteSync(""),)
    # Counted by semi-sync is not enough: the standby may still be fetching
    # what was committed without it. It says itself when it has all of it.
    counted = semi_on and v.db.semi.master_on and v.db.semi.master_clients > 0
    if counted and p is not None and p.complete and w.complete != cfg.peer \
            and holds_leader(v, cfg):
        return (WriteSync(cfg.peer),)
    return ()


def go_alone(v: View, cfg: AgentConfig, role: Role) -> Decision:
    """The standby is lost: with the witness's word, record that it is no
    longer complete, then commit alone; without it, stop writes."""
    w, peer = v.witness, cfg.peer
    assert w is not None
    if not holds_leader(v, cfg):
        why = trouble(w) if not w.ok else "this node's hold on the leader key is not fresh"
        # Not eligible for the VIP either: the other side may be taking over
        # with the witness, and clients here could only be refused.
        return Decision(actions=(Demote(),) if not v.db.read_only else (),
                        reason=f"standby {peer} lost and no majority confirms this node "
                        f"({why}): writes stop until {peer} or the witness answers",
                        eligible=False, role=Role.PRIMARY_PAUSED, problem=True,
                        condition=Condition.STANDBY_LOST)
    if w.complete == peer:
        return Decision(actions=(WriteSync(""),), reason=f"standby {peer} lost: recording with "
                        "the witness that it is no longer complete, then committing alone",
                        eligible=True, role=role, problem=True)
    acts: tuple[Action, ...] = ()
    if v.db.read_only:
        acts = (Reopen(semi_sync=False),)
    elif v.db.semi_sync_master:
        acts = (SetSemiSync(on=False),)
    # A standby cut off by a partition held the VIP a moment (and drops it,
    # the witness refusing it): clients may still send there.
    acts = (*acts, *announce(v))
    return Decision(actions=acts, reason=f"standby {peer} lost; the witness agrees: committing "
                    "alone until it is back", eligible=True, role=Role.PRIMARY, problem=True,
                    condition=Condition.STANDBY_LOST)


def announce(v: View) -> tuple[Action, ...]:
    """Say where the VIP is again, every ANNOUNCE_EVERY_S while this node
    holds it and commits alone: after a partition the other node may have
    held it a moment, and its gratuitous ARPs may be the clients' last."""
    if v.holds_vip and v.now - v.memory.announced_at >= ANNOUNCE_EVERY_S:
        return (Announce(),)
    return ()


def unplanned_promotion(v: View, cfg: AgentConfig, lease_out: float) -> Decision:
    """The primary is silent on every path: promote only with the witness's
    word (a majority answers, the sync record names this node, the leader key
    has not moved for the lease and the margin), taking the key in the same
    compare-and-swap that checks the sync record."""
    w, peer = v.witness, cfg.peer
    assert w is not None
    if not w.ok:
        return _no(f"{peer} unreachable and {trouble(w)}: not promoting (this node may be the "
                   "one cut off)")
    if w.complete != v.node:
        named = w.complete or "no node"
        return _no(f"{peer} unreachable; the witness's sync record names {named} complete, "
                   "not this node: not promoting")
    if partitioned(v, cfg):
        return _no(f"{peer} is silent here but renews its leader key with the witness "
                   f"({v.now - w.leader_seen:.1f}s ago): a partition, not a failure; not "
                   "taking over, and the VIP is left to it")
    if w.leader and w.leader != v.node:
        lease_out = max(lease_out, w.leader_seen + cfg.lease_s + cfg.margin_s)
    if lease_out > v.now:
        return Decision(reason=f"{peer} unreachable: promoting when its lease has run out "
                        f"({lease_out - v.now:.1f}s)", eligible=True, role=Role.CANDIDATE)
    return Decision(actions=(Promote(close_peer=False, semi_sync=False,
                                     claim=Claim(w.leader_rev, w.sync_rev)),),
                    reason=f"{peer} unreachable and its lease ran out; the witness names this "
                    "node complete: taking the leader key, promoting, committing alone",
                    eligible=True, role=Role.PROMOTING)


def may_take_over(v: View) -> str:
    """With a witness, a takeover over a live peer (it holds the VIP here)
    needs the witness to answer and its sync record to name this node; why
    not, or "". Without the witness's word this node cannot tell whether the
    peer committed alone with it, nor take the leader key: the peer, alive,
    keeps its role (and pauses writes itself if it has no majority either)."""
    w = v.witness
    if w is None or w.complete == v.node and w.ok:
        return ""
    if not w.ok:
        return f"{trouble(w)}: the witness cannot confirm a takeover"
    return (f"the witness's sync record names {w.complete or 'no node'} complete, not this "
            "node: the primary committed without it")


def fenced_claim(v: View) -> Claim | None:
    """A promotion over a fenced peer takes the key whatever its revision."""
    w = v.witness
    return Claim(None, None) if w is not None and w.ok else None


def refusal(error: str) -> bool:
    """etcd answered but refused this agent (credentials, certificate,
    permissions): an operator's mistake to fix, not a lost majority."""
    return any(w in error for w in ("authentication failed", "permission denied",
                                    "certificate", "SSLError", "CommonName"))


def trouble(w: Witness) -> str:
    """Why the witness did not answer, in words for the log and `status`."""
    if refusal(w.error):
        return f"etcd refuses this agent ({w.error[:120]}: check the certificates and the " \
               "secrets' etcd_agent_password)"
    return f"no majority answers ({w.error[:100]})"


def _no(why: str) -> Decision:
    return Decision(reason=why, eligible=False, role=Role.REPLICA, problem=True)

