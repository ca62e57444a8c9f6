"""The primary's lease guard (agent/guard.py) over a fake agent."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from hapair.agent import guard
from hapair.agent.view import Peer, View
from tests.unit.test_decide import primary_db


def test_a_guard_that_stood_still_longer_than_the_lease_fences_at_once() -> None:
    """A machine paused whole (the drill's freeze-machine-primary): on
    resuming, the peer's stale paths and a fresh answer must not keep the
    database writable, since the peer may have promoted meanwhile; the
    application is stopped at once rather than waited for."""
    fenced: list[float] = []

    def fence(app_user: str, stop_clients: Any = None, patience: float = 0.3) -> None:
        fenced.append(patience)

    now = time.monotonic()
    agent = SimpleNamespace(
        memory=SimpleNamespace(degraded=False, paused=False, peer_complete=True),
        cfg=SimpleNamespace(fence=None, lease_s=0.8, app_user="roombook", peer="node2"),
        peer=SimpleNamespace(paths=("interconnect",)),  # as last seen, before the pause
        contact=SimpleNamespace(read=lambda: (now, now)),  # renewed as it resumed
        keeper=None, guard_db=SimpleNamespace(fence=fence), stop_app=lambda: None)
    agent.view = View(now=now, node="node1", peer_name="node2", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(), peer=Peer(None, ()))
    guard.once(agent, stalled=0.06)  # type: ignore[arg-type]
    assert fenced == []  # a tick as usual: the peer answers, the lease holds
    guard.once(agent, stalled=8.0)  # type: ignore[arg-type]
    assert fenced == [0.0] and agent.view.db.read_only
    agent.view = View(now=now, node="node1", peer_name="node2", keepalived_running=True,
                      vrrp="MASTER", holds_vip=True, db=primary_db(semi_sync_master=False),
                      peer=Peer(None, ()))
    agent.memory.peer_complete = False  # the peer may lack commits: it never takes over
    guard.once(agent, stalled=8.0)  # type: ignore[arg-type]
    assert fenced == [0.0]
