"""A replica's agent stopped on purpose (a restart, a new hapair): the
primary, told so, goes on writing instead of taking the silence for a lost
standby; the replica's next agent is complete again only once the primary
has seen it (agent/stopping.py, learn.peer_stopped). Pure: learn, decide,
the guard's rule."""

from __future__ import annotations

from dataclasses import replace

from hapair.agent.core.actions import Demote, SetSemiSync
from hapair.agent.core.decide import decide
from hapair.agent.core.learn import learn
from hapair.agent.core.lease_rules import binds
from hapair.agent.core.view import Memory, Witness
from hapair.model.roles import Role
from hapair.probes.mariadb import SemiSync
from tests.unit.test_decide import (
    CFG,
    CFG1,
    NOW,
    peer_primary,
    peer_replica,
    primary_db,
    replica_db,
    view,
)

STOPPING = peer_replica(stopping=True, complete=False, eligible=False)


def _primary(peer: object, memory: Memory, **db: object):  # type: ignore[no-untyped-def]
    return view(primary_db(**db), peer, node="node1", holds_vip=True,  # type: ignore[arg-type]
                memory=memory)


def test_the_primary_learns_that_its_standby_stops_on_purpose() -> None:
    m = learn(_primary(STOPPING, Memory(peer_complete=True, lease_renewed=NOW - 0.1)), CFG1)
    assert m.peer_stopped_at == NOW and m.peer_complete is False
    # Still answering: semi-sync stays on (its database acknowledges).
    assert SetSemiSync(on=False) not in decide(_primary(STOPPING, m), CFG1).actions
    # A replica that says so while promoting is not believed; nor a writable one.
    for odd in (peer_replica(stopping=True, role="promoting"),
                peer_replica(stopping=True, read_only=False)):
        assert learn(_primary(odd, Memory()), CFG1).peer_stopped_at == 0.0


def test_the_silence_after_a_planned_stop_is_not_a_lost_standby() -> None:
    silent = Memory(peer_complete=False, peer_stopped_at=NOW - 2, lease_renewed=NOW - 2)
    v = _primary(None, silent)
    d = decide(v, CFG1)
    assert Demote() not in d.actions and d.role is Role.PRIMARY, d.reason
    assert "stopped on purpose" in d.reason and "acknowledgements" in d.reason
    assert not binds(v, silent, CFG1)  # no lease to run out meanwhile
    assert learn(v, CFG1).peer_stopped_at == NOW - 2  # kept while it is silent
    # Its database gone too (a reboot): committing alone, not waiting for it.
    alone = _primary(None, silent, semi=SemiSync(master_on=True, master_clients=0))
    d = decide(alone, CFG1)
    assert SetSemiSync(on=False) in d.actions and "alone" in d.reason, d.reason
    # The same silence without the announcement stops writes (the rule it bends).
    lost = Memory(peer_complete=True, lease_renewed=NOW - 2)
    assert Demote() in decide(_primary(None, lost), CFG1).actions
    assert binds(_primary(None, lost), lost, CFG1)


def test_the_next_agent_answering_ends_it_and_binds_the_lease_again() -> None:
    m = Memory(peer_complete=False, peer_stopped_at=NOW - 2, lease_renewed=NOW - 0.1)
    back = learn(_primary(peer_replica(complete=False), m), CFG1)
    assert back.peer_stopped_at == 0.0
    assert binds(_primary(peer_replica(), back), back, CFG1)


def test_the_next_agent_is_not_complete_until_the_primary_has_seen_it() -> None:
    fresh = Memory(complete=False, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1)
    unseen = view(replica_db(), peer_primary(peer_stopped=True), memory=fresh)
    assert learn(unseen, CFG).complete is False
    seen = view(replica_db(), peer_primary(), memory=fresh)
    assert learn(seen, CFG).complete is True


def test_with_a_witness_the_sync_record_drops_the_standby_first() -> None:
    """The stop is taken only once the witness's sync record no longer names
    the standby complete, which the primary writes first: until then the
    standby could promote with the witness's word, and the lease binds.
    (Before, with a witness, the primary waited for the stopped standby's
    acknowledgements until it counted it lost: 1-2 s without a booking in
    the demo lab's rolling reboot.)"""
    from hapair.agent.core.actions import WriteSync

    held = Witness(ok=True, leader="node1", renewed=NOW - 0.1, complete="node2")
    m = Memory(peer_complete=True, lease_renewed=NOW - 0.1)
    named = replace(_primary(STOPPING, m), witness=held)
    assert learn(named, CFG1).peer_stopped_at == 0.0
    assert WriteSync("") in decide(named, CFG1).actions
    assert binds(named, learn(named, CFG1), CFG1)
    dropped = replace(named, witness=replace(held, complete=""))
    took = learn(dropped, CFG1)
    assert took.peer_stopped_at == NOW and not binds(dropped, took, CFG1)
    assert WriteSync("") not in decide(dropped, CFG1).actions
    # A witness that does not answer may still name it: not taken.
    unsure = replace(named, witness=replace(held, ok=False, complete=""))
    assert learn(unsure, CFG1).peer_stopped_at == 0.0
    # Not a replica that is promoting: nothing written for it.
    odd = replace(named, peer=replace(named.peer, status=peer_replica(
        stopping=True, role="promoting", complete=False)))
    assert WriteSync("") not in decide(odd, CFG1).actions


def test_a_poll_that_hears_the_stop_on_one_path_keeps_it() -> None:
    """The stopping replica takes any read of `stopping` as heard; its primary
    must judge by that answer, not by the other path's earlier one (seen: a
    rolling reboot's standby read on the public path only, its primary took
    the silence for a lost standby and paused writes for the whole reboot)."""
    from hapair.agent.node.peer import chosen
    from hapair.model.status import StatusDoc

    before = StatusDoc(node="node2", read_only=True, role="replica", reason="ok")
    stopping = before.model_copy(update={"stopping": True})
    both = ("interconnect", "public")
    assert chosen({"interconnect": before, "public": stopping}, both) is stopping
    assert chosen({"interconnect": before, "public": before}, both) is before
    assert chosen({"interconnect": None, "public": before}, ("public",)) is before
    assert chosen({"interconnect": None, "public": None}, ()) is None


def test_the_stopping_replica_waits_until_its_primary_took_the_stop() -> None:
    """With a witness or without, an answer sent is not enough: the primary's own
    status, answered after the stop was announced, must say `peer_stopped`
    (seen: the replica exited on the send, its primary took the silence for
    a lost standby and paused writes, 43 s in the pair's rolling reboot)."""
    from hapair.agent.core.view import Peer
    from hapair.agent.stopping import taken
    from hapair.model.status import StatusDoc

    primary = StatusDoc(node="node1", read_only=False, role="primary", reason="ok")
    took = Peer(primary.model_copy(update={"peer_stopped": True}), ("interconnect",), 11.0)
    assert not taken(True, Peer(primary, ("interconnect",), 11.0), 10.0)
    assert not taken(True, replace(took, answered_at=9.0), 10.0)  # an old one
    assert not taken(True, Peer(None, ()), 10.0)
    assert not taken(False, took, 10.0)
    assert taken(True, took, 10.0)
