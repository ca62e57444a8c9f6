"""The primary's lease (pure): when it binds this node, and when it has run
out. The loop's decide (a primary whose peer is lost stops its writes) and
the guard's thread (which closes the database itself when the loop cannot)
ask the same questions, here: were they written twice, one could keep a
node writable past the moment the other, or the peer, counts on it closed.

The standby may promote once the primary's lease has run out and it has
waited out its own margin (docs/controller.md, the timing inequality), so
the lease binds only a node whose peer could take over: one that may hold
every confirmed commit."""

from __future__ import annotations

from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import Memory, View


def peer_may_take_over(m: Memory, semi_sync_master: bool) -> bool:
    """Whether the peer could promote once the lease runs out: it may hold
    every confirmed commit (acknowledged by semi-sync, or it said it is
    complete), this node is not committing alone on the operator's word
    (degrade), and the peer's agent did not stop on purpose (it cannot take
    over then)."""
    if m.degraded or m.peer_stopped_at:
        return False
    return semi_sync_master or m.peer_complete


def binds(v: View | None, m: Memory, cfg: AgentConfig) -> bool:
    """Whether the lease binds this node now: a writable primary, not paused,
    whose peer could take over. Not with fence devices (the peer never
    promotes without powering this node off first)."""
    if cfg.fence is not None:
        return False
    if v is None or v.db.read_only or not v.db.up or m.paused:
        return False
    return peer_may_take_over(m, v.db.semi_sync_master)


def run_out(silent: float, lease_s: float, now: float, restart_until: float) -> bool:
    """Whether the lease has run out: the peer (and the witness) silent for
    longer than the lease, and this agent not within its own restart in
    place (agent/restarting.py: the standby agreed to wait out the window)."""
    return silent > lease_s and now >= restart_until
