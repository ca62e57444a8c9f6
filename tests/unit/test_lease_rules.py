"""The primary's lease, one rule for decide and the guard (lease_rules):
when it binds, when it has run out, and the two sides never disagreeing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hapair.agent.core.decide import decide
from hapair.agent.core.lease_rules import binds, peer_may_take_over, run_out
from hapair.agent.core.view import Memory
from hapair.model.roles import Condition
from tests.unit.test_decide import CFG1, NOW, primary_db, view

MEM = Memory(peer_complete=True, lease_renewed=NOW - 1.0)


@pytest.mark.parametrize(("memory", "semi", "may"), [
    (MEM, False, True),  # it said it is complete
    (replace(MEM, peer_complete=False), True, True),  # semi-sync acknowledges
    (replace(MEM, peer_complete=False), False, False),  # it may lack commits
    (replace(MEM, degraded=True), True, False),  # committing alone on the operator's word
    (replace(MEM, peer_stopped_at=NOW - 3), True, False),  # its agent stopped on purpose
])
def test_the_peer_may_take_over_only_where_it_could_hold_every_commit(
        memory: Memory, semi: bool, may: bool) -> None:
    assert peer_may_take_over(memory, semi) is may


def test_the_lease_binds_a_writable_unpaused_primary_without_fence_device() -> None:
    v = view(primary_db(), None, node="node1", holds_vip=True, memory=MEM)
    assert binds(v, MEM, CFG1)
    assert not binds(None, MEM, CFG1)
    assert not binds(replace(v, db=primary_db(read_only=True)), MEM, CFG1)
    assert not binds(replace(v, db=primary_db(up=False)), MEM, CFG1)
    assert not binds(v, replace(MEM, paused=True), CFG1)


def test_the_lease_runs_out_past_its_length_and_never_within_a_restart_in_place() -> None:
    assert run_out(2.1, 2.0, NOW, 0.0)
    assert not run_out(2.0, 2.0, NOW, 0.0)
    assert not run_out(9.0, 2.0, NOW, NOW + 0.5)  # the standby waits out the window
    assert run_out(9.0, 2.0, NOW, NOW)


@given(silent=st.floats(0.0, 10.0), complete=st.booleans(), semi=st.booleans(),
       degraded=st.booleans(), stopped=st.booleans(), window=st.floats(-5.0, 5.0))
def test_decide_stops_writes_exactly_where_the_guard_would_close_the_database(
        silent: float, complete: bool, semi: bool, degraded: bool, stopped: bool,
        window: float) -> None:
    """A primary whose peer answers on no path: decide's "standby lost" and
    the guard's fence are the same judgement (no witness, no fence device)."""
    m = Memory(peer_complete=complete, lease_renewed=NOW - silent, degraded=degraded,
               peer_stopped_at=NOW - 1 if stopped else 0.0, restart_until=NOW + window)
    v = view(primary_db(semi_sync_master=semi), None, node="node1", holds_vip=True, memory=m)
    guard_closes = binds(v, v.memory, CFG1) and run_out(silent, CFG1.lease_s, NOW,
                                                        m.restart_until)
    assert (decide(v, CFG1).condition is Condition.STANDBY_LOST) is guard_closes
