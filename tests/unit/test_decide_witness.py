"""The witness's rules: views with what etcd said in, actions and a reason out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hapair.agent.core.actions import (
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
from hapair.agent.core.decide import decide
from hapair.agent.core.view import Memory, View, Witness
from hapair.model.roles import Condition, Role
from tests.unit.test_decide import (
    CFG,
    CFG1,
    NOW,
    PRIMARY_LOST,
    RO_PRIMARY,
    peer_primary,
    peer_replica,
    primary_db,
    replica_db,
    view,
)

# node1's, with its standby silent for 2 s (lease 0.8 s): the standby is lost.
LOST_MEM = Memory(peer_complete=True, lease_renewed=NOW - 2, peer_seen=NOW - 2)
HELD = Witness(ok=True, leader="node1", leader_epoch=3, leader_rev=40, leader_seen=NOW - 0.1,
               complete="node2", sync_rev=30, renewed=NOW - 0.1)
DOWN = Witness(ok=False, error="ConnectionTimeoutError: no majority")


def primary(w: Witness | None, *, peer: bool = False, memory: Memory = LOST_MEM,
            **db: object) -> View:
    v = view(primary_db(**db), peer_replica() if peer else None, node="node1", holds_vip=True,
             memory=memory if not peer else Memory(peer_complete=True, lease_renewed=NOW - 0.1,
                                                     peer_seen=NOW - 0.1))
    return replace(v, witness=w)


def standby(w: Witness | None, **mem: object) -> View:
    v = view(replica_db(), None, holds_vip=True, memory=replace(PRIMARY_LOST, **mem))
    return replace(v, witness=w)


def acts(d: Decision) -> tuple[object, ...]:
    return d.actions


def test_standby_lost_first_the_sync_record_forgets_it() -> None:
    d = decide(primary(HELD), CFG1)
    assert acts(d) == (WriteSync(""),) and d.role is Role.PRIMARY and d.eligible
    assert "no longer complete" in d.reason


def test_standby_lost_then_the_primary_commits_alone() -> None:
    d = decide(primary(replace(HELD, complete="")), CFG1)
    assert acts(d) == (SetSemiSync(on=False), Announce()) and d.role is Role.PRIMARY
    assert d.condition is Condition.STANDBY_LOST and d.problem


def test_standby_lost_without_a_majority_writes_stop() -> None:
    d = decide(primary(DOWN), CFG1)
    assert acts(d) == (Demote(),) and d.role is Role.PRIMARY_PAUSED and not d.eligible
    assert "no majority" in d.reason


def test_standby_lost_with_a_stale_hold_on_the_key_writes_stop() -> None:
    d = decide(primary(replace(HELD, renewed=NOW - 1.0)), CFG1)
    assert acts(d) == (Demote(),)


def test_the_standby_counted_again_is_named_complete() -> None:
    d = decide(primary(replace(HELD, complete=""), peer=True), CFG1)
    assert WriteSync("node2") in acts(d) and d.role is Role.PRIMARY


def test_not_named_complete_while_it_still_fetches_what_was_committed_alone() -> None:
    v = primary(replace(HELD, complete=""), peer=True)
    v = replace(v, peer=replace(v.peer, status=peer_replica(complete=False)))
    assert WriteSync("node2") not in acts(decide(v, CFG1))


def test_not_named_complete_before_semi_sync_counts_it() -> None:
    v = primary(replace(HELD, complete=""), peer=True)
    v = replace(v, db=replace(v.db, semi=replace(v.db.semi, master_clients=0)))
    assert WriteSync("node2") not in acts(decide(v, CFG1))


def test_a_primary_takes_a_free_leader_key() -> None:
    free = Witness(ok=True)
    assert ClaimLeader() in acts(decide(primary(free, peer=True), CFG1))


def test_a_key_left_by_an_older_epoch_is_taken_not_obeyed() -> None:
    old = replace(HELD, leader="node2", leader_epoch=2)
    d = decide(primary(old, peer=True), CFG1)
    assert ClaimLeader() in acts(d) and d.role is Role.PRIMARY


def test_the_key_held_by_the_peer_for_this_epoch_closes_this_node() -> None:
    theirs = replace(HELD, leader="node2", leader_epoch=4)
    d = decide(primary(theirs, peer=True), CFG1)
    assert Demote() in acts(d) and d.role is Role.PRIMARY_FENCED and not d.eligible


def test_the_paused_primary_reopens_alone_with_the_witness() -> None:
    v = replace(view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=LOST_MEM),
                witness=HELD)
    assert acts(decide(v, CFG1)) == (WriteSync(""),)
    v = replace(v, witness=replace(HELD, complete=""))
    assert acts(decide(v, CFG1)) == (Reopen(semi_sync=False), Announce())


OLD_KEY = replace(HELD, leader_seen=NOW - 5)  # node1 fell silent 5 s ago, key and all


def test_a_complete_standby_takes_the_key_in_the_same_swap_as_the_sync_check() -> None:
    d = decide(standby(OLD_KEY), CFG)
    assert acts(d) == (Promote(close_peer=False, semi_sync=False, claim=Claim(40, 30)),)
    assert d.role is Role.PROMOTING


@pytest.mark.parametrize(("w", "words"), [
    (replace(OLD_KEY, complete=""), "names no node complete"),
    (replace(OLD_KEY, complete="node1"), "names node1 complete"),
    (DOWN, "no majority"),
])
def test_a_standby_not_named_or_cut_off_never_promotes(w: Witness, words: str) -> None:
    d = decide(standby(w), CFG)
    assert not acts(d) and d.role is Role.REPLICA and not d.eligible and words in d.reason


def test_a_renewed_key_holds_the_standby_back() -> None:
    # The primary died 0.7 s ago: its last renewal reached us 0.5 s ago.
    v = standby(replace(HELD, leader_seen=NOW - 0.5), peer_seen=NOW - 0.7)
    d = decide(v, CFG)
    assert not acts(d) and d.role is Role.CANDIDATE and "lease" in d.reason


def test_a_peer_silent_here_but_renewing_its_key_is_a_partition() -> None:
    d = decide(standby(HELD), CFG)  # silent here for 5 s, its key renewed 0.1 s ago
    assert not acts(d) and not d.eligible and "partition" in d.reason


def test_the_vip_held_over_a_live_peer_is_no_takeover_unless_named_complete() -> None:
    v = replace(view(replica_db(), peer_primary(holds_vip=False), holds_vip=True,
                     vip_since=NOW - 5), witness=replace(HELD, complete=""))
    d = decide(v, CFG)
    assert not acts(d) and not d.eligible and "names no node complete" in d.reason
    d = decide(replace(v, witness=HELD), CFG)
    assert kinds_of(d) == [Promote]
    # Without the witness's answer: no leader key to take, and no word on
    # whether the peer committed alone with the witness's blessing.
    d = decide(replace(v, witness=DOWN), CFG)
    assert not acts(d) and not d.eligible and "cannot confirm a takeover" in d.reason


def kinds_of(d: Decision) -> list[type]:
    return [type(a) for a in d.actions]


def test_a_switchover_takes_the_key_whatever_its_revision() -> None:
    v = replace(view(replica_db(), peer_primary(), memory=Memory(complete=True,
                                                                switchover_to="node2")),
                witness=HELD)
    d = decide(v, CFG)
    assert acts(d) == (Promote(close_peer=True, semi_sync=True, claim=Claim(None, None)),)


def test_without_a_witness_the_two_node_rules_stay() -> None:
    d = decide(primary(None), CFG1)
    assert acts(d) == (Demote(),) and d.condition is Condition.STANDBY_LOST


def test_an_etcd_that_refuses_the_agent_is_named_as_such() -> None:
    refused = Witness(ok=False, error='Etcd3Exception: {"error":"etcdserver: authentication '
                      'failed, invalid user ID or password"}')
    d = decide(standby(refused), CFG)
    assert "etcd refuses this agent" in d.reason and "etcd_agent_password" in d.reason


def test_a_key_that_moved_once_after_the_silence_then_stopped_is_a_failure() -> None:
    # A last renewal reached us late (an etcd election), then nothing for 1.5 s.
    d = decide(standby(replace(HELD, leader_seen=NOW - 1.5)), CFG)
    assert kinds_of(d) == [Promote] and d.role is Role.PROMOTING


def test_a_partitioned_replica_without_the_vip_does_not_ask_for_it() -> None:
    v = replace(view(replica_db(), None, memory=PRIMARY_LOST), witness=HELD)
    d = decide(v, CFG)
    assert not d.eligible and "partition" in d.reason
    d = decide(replace(v, witness=OLD_KEY), CFG)  # the primary died: the key stopped with it
    assert d.eligible


def test_a_paused_primary_without_a_majority_does_not_ask_for_the_vip() -> None:
    v = replace(view(RO_PRIMARY, None, node="node1", holds_vip=False, memory=LOST_MEM),
                witness=DOWN)
    d = decide(v, CFG1)
    assert not d.eligible and not acts(d) and "no majority" in d.reason


def test_a_failed_takeover_over_a_live_peer_waits_before_it_fences_again() -> None:
    """Each try fences the peer anew: tried every cycle, both would stay
    closed. The VIP goes back meanwhile; the peer's fence lapses first."""
    failed = Memory(vip_since=NOW - 5, promote_failed_at=NOW - 5,
                    promote_note="timed out after 60s waiting for the relay log to be applied")
    v = replace(view(replica_db(), peer_primary(holds_vip=False), holds_vip=True,
                     memory=failed), witness=HELD)
    d = decide(v, CFG)
    assert not acts(d) and not d.eligible and "a takeover from node1 failed" in d.reason
    assert "relay log" in d.reason
    later = replace(v, memory=replace(failed, promote_failed_at=NOW - 31))
    assert kinds_of(decide(later, CFG)) == [Promote]
    from hapair.agent.core.learn import FENCE_HOLD_S
    from hapair.agent.core.standby import TAKEOVER_RETRY_S
    assert TAKEOVER_RETRY_S > FENCE_HOLD_S
