"""decide() with a fence device per node: acting alone only after the peer is
confirmed off; the primary's side fences at once, the other after the delay."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hapair.agent.core.actions import Decision, FencePeer, Promote, Reopen, SetSemiSync
from hapair.agent.core.config import PeerFence, from_spec
from hapair.agent.core.decide import decide
from hapair.agent.core.fence_rules import FENCE_RETRY_S
from hapair.agent.core.learn import learn
from hapair.agent.core.view import Memory
from hapair.model.roles import Role
from tests.unit.test_decide import (
    CFG,
    CFG1,
    NOW,
    peer_primary,
    primary_db,
    replica_db,
    view,
)

FENCE = PeerFence("fence_ipmilan", {"ip": "10.99.0.111"}, delay_s=2.0, timeout_s=20.0)
F2, F1 = replace(CFG, fence=FENCE), replace(CFG1, fence=FENCE)
LOST = NOW - 5  # the peer's last sign, long enough ago for any lease
RO_PRIMARY = primary_db(read_only=True, semi_sync_master=False)


def standby_lost(**memory: object) -> Decision:
    m = Memory(peer_complete=True, peer_seen=LOST, lease_renewed=LOST)
    return decide(view(RO_PRIMARY, None, node="node1", holds_vip=True,
                       memory=replace(m, **memory)), F1)  # type: ignore[arg-type]


def primary_lost(seen: float = LOST, **memory: object) -> Decision:
    m = Memory(complete=True, peer_seen=seen, lease_renewed=seen)
    return decide(view(replica_db(), None, holds_vip=True,
                       memory=replace(m, **memory)), F2)  # type: ignore[arg-type]


def test_the_primary_fences_a_lost_standby_at_once() -> None:
    d = standby_lost()
    assert d.actions == (FencePeer(),) and d.role is Role.FENCING and d.eligible
    assert "powering node2 off through its fence device (fence_ipmilan)" in d.reason


def test_and_commits_alone_once_it_is_confirmed_off() -> None:
    m = Memory(peer_off_at=NOW - 1, peer_seen=LOST, lease_renewed=LOST)
    v = view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=m)
    v = replace(v, memory=learn(replace(v, memory=replace(m, peer_complete=True)), F1))
    assert not v.memory.peer_complete  # a peer that is off cannot promote
    d = decide(v, F1)
    assert d.actions == (Reopen(semi_sync=False),) and d.role is Role.PRIMARY
    assert "was powered off through its fence device" in d.reason


def test_a_failed_fence_is_retried_and_writes_stay_paused() -> None:
    d = standby_lost(fence_failed_at=NOW - 1, fence_note="fence_ipmilan off: exit 1")
    assert d.actions == () and d.role is Role.PRIMARY_PAUSED and d.problem
    assert f"trying again in {FENCE_RETRY_S - 1:.0f}s" in d.reason and "exit 1" in d.reason
    assert standby_lost(fence_failed_at=NOW - FENCE_RETRY_S - 1).actions == (FencePeer(),)


def test_without_a_fence_device_the_standby_loss_still_pauses() -> None:
    m = Memory(peer_complete=True, peer_seen=LOST, lease_renewed=LOST)
    d = decide(view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=m), CFG1)
    assert d.actions == () and "hapair degrade" in d.reason


@pytest.mark.parametrize(("seen", "wait"), [(NOW - 1.5, 1.7), (NOW - 2.9, 0.3)])
def test_the_standby_waits_the_lease_and_the_delay(seen: float, wait: float) -> None:
    d = primary_lost(seen)
    assert d.actions == () and d.role is Role.CANDIDATE
    assert f"fencing node1 in {wait:.1f}s" in d.reason


def test_the_standby_fences_then_promotes() -> None:
    d = primary_lost()
    assert d.actions == (FencePeer(),) and "before promoting" in d.reason
    done = primary_lost(peer_off_at=NOW - 0.5)
    assert done.actions == (Promote(close_peer=False, semi_sync=False),)


def test_an_unreachable_fence_device_means_no_promotion() -> None:
    d = primary_lost(fence_failed_at=NOW - 2, fence_note="fence_ipmilan off: exit 1 "
                     "(Failed: Unable to obtain correct plug status or plug is not available)")
    assert d.actions == () and d.problem and "not promoting until it is confirmed off" in d.reason


def test_a_fenced_peer_that_answers_again_is_back() -> None:
    m = Memory(complete=True, peer_off_at=NOW - 30, lease_renewed=NOW, peer_seen=NOW)
    assert learn(view(replica_db(), peer_primary(), memory=m), F2).peer_off_at == 0


def test_the_config_carries_the_peers_device_only_when_both_have_one() -> None:
    from hapair.spec import load_spec
    from tests.conftest import EXAMPLES

    fenced = load_spec(EXAMPLES / "lab-fence.toml").spec
    cfg = from_spec(fenced, fenced.node("node1"))
    assert cfg.fence is not None and cfg.fence.options["ip"] == "10.99.0.111"
    assert CFG.fence is None


def writable_standby_lost(**memory: object) -> Decision:
    m = Memory(peer_complete=True, peer_seen=NOW - 1, lease_renewed=NOW - 1)
    return decide(view(primary_db(), None, node="node1", holds_vip=True,
                       memory=replace(m, **memory)), F1)  # type: ignore[arg-type]


def test_a_writable_primary_keeps_writes_open_while_it_fences() -> None:
    d = writable_standby_lost()
    assert d.actions == (FencePeer(),) and d.role is Role.FENCING and d.eligible


def test_and_stops_waiting_for_acknowledgements_once_the_standby_is_off() -> None:
    m = Memory(peer_off_at=NOW - 0.2, peer_seen=NOW - 1, lease_renewed=NOW - 1)
    v = view(primary_db(), None, node="node1", holds_vip=True, memory=m)
    v = replace(v, memory=learn(replace(v, memory=replace(m, peer_complete=True)), F1))
    d = decide(v, F1)
    assert d.actions == (SetSemiSync(on=False),) and d.role is Role.PRIMARY
    assert "committing alone" in d.reason


def test_a_live_host_whose_agent_is_silent_is_not_fenced() -> None:
    from hapair.agent.core.view import Peer
    m = Memory(complete=True, peer_seen=LOST, lease_renewed=LOST)
    v = view(replica_db(), None, holds_vip=True, memory=m)
    v = replace(v, peer=Peer(None, (), 0.0, ("192.168.57.102:3306",)))
    d = decide(v, F2)
    assert d.actions == () and "a live node is not fenced" in d.reason and d.problem
