"""Acting alone with a fence device (pure): before a node commits or promotes
without its peer, the peer is powered off and confirmed off. In a partition
both sides try: the primary at once, the other only after the configured
delay (Pacemaker's priority fencing delay), so exactly one survives."""

from __future__ import annotations

from hapair.agent.core.actions import Decision, FencePeer
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import View
from hapair.model.roles import Role

FENCE_RETRY_S = 10.0  # a failed fence is tried again after this long


def fence_first(v: View, cfg: AgentConfig, *, why: str, acting: str, role: Role,
                not_before: float, then: Decision) -> Decision:
    """``then`` once the peer is confirmed off; until then fence it (from
    ``not_before`` on, monotonic), or say why not yet."""
    m, peer = v.memory, cfg.peer
    assert cfg.fence is not None
    if m.peer_off_at:
        return then
    if v.peer.host_answers:
        return Decision(reason=f"{why}: its agent is silent but the host answers "
                        f"({', '.join(v.peer.host_answers[:2])}): a live node is not fenced; "
                        f"not {acting}", eligible=True, role=role, problem=True)
    wait = not_before - v.now
    if wait > 0:
        return Decision(reason=f"{why}: fencing {peer} in {wait:.1f}s (its side goes first), "
                        f"then {acting}", eligible=True, role=role, problem=True)
    retry = m.fence_failed_at + FENCE_RETRY_S - v.now
    if m.fence_failed_at and retry > 0:
        return Decision(reason=f"{why}: fencing {peer} failed ({m.fence_note}); trying "
                        f"again in {retry:.0f}s; not {acting} until it is confirmed off",
                        eligible=True, role=role, problem=True)
    return Decision(actions=(FencePeer(),), reason=f"{why}: powering {peer} off through its "
                    f"fence device ({cfg.fence.agent}) before {acting}", eligible=True,
                    role=Role.FENCING, problem=True)
