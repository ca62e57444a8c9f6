"""The controller's specification: views in, actions and a reason out.
No database, no mocks: decide() and learn() are pure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hapair.agent import gtid
from hapair.agent.config import from_spec
from hapair.agent.decide import (
    Demote,
    DropVip,
    Follow,
    LeaveReplication,
    Promote,
    Rebuild,
    Reconnect,
    Reopen,
    RestartService,
    SetSemiSync,
    StartReplication,
    decide,
    learn,
)
from hapair.agent.view import LocalDB, Memory, Peer, PeerStatus, View
from hapair.probes.mariadb import SemiSync, SlaveStatus
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

SPEC = load_spec(EXAMPLES / "lab.toml").spec
CFG = from_spec(SPEC, SPEC.node("node2"))  # node2's agent; node1 is its peer
CFG1 = from_spec(SPEC, SPEC.node("node1"))
NOW = 1000.0
NODE1_IC = "192.168.57.102"
NODE1_PUB = "10.54.0.10"
NODE2_IC = "192.168.57.103"


def replica_db(**kw: object) -> LocalDB:
    base = LocalDB(
        up=True, read_only=True, gtid_binlog_pos="0-1-100", gtid_current_pos="0-1-100",
        gtid_slave_pos="0-1-100", slave=SlaveStatus(
            io_running="Yes", sql_running="Yes", master_host=NODE1_IC, master_port=3306,
            gtid_io_pos="0-1-100"),
        semi=SemiSync(False, 0, 0, 0, True), epoch=3, epoch_primary="node1", epoch_age_s=600)
    return replace(base, **kw)  # type: ignore[arg-type]


def primary_db(**kw: object) -> LocalDB:
    base = LocalDB(up=True, read_only=False, gtid_binlog_pos="0-1-100",
                   gtid_current_pos="0-1-100", semi_master_enabled=True,
                   semi=SemiSync(True, 1, 0, 0, False), epoch=3, epoch_primary="node1",
                   epoch_age_s=600)
    return replace(base, **kw)  # type: ignore[arg-type]


def peer_primary(**kw: object) -> PeerStatus:
    base = PeerStatus(node="node1", db_up=True, read_only=False, epoch=3, epoch_primary="node1",
                      gtid_binlog_pos="0-1-100", holds_vip=True, keepalived_running=True,
                      semi_master_on=True, semi_clients=1, io_running="", master_host="",
                      complete=True, eligible=True, paused=False)
    return replace(base, **kw)  # type: ignore[arg-type]


def peer_replica(**kw: object) -> PeerStatus:
    base = PeerStatus(node="node2", db_up=True, read_only=True, epoch=3, epoch_primary="node1",
                      gtid_binlog_pos="0-1-100", holds_vip=False, keepalived_running=True,
                      semi_master_on=False, semi_clients=0, io_running="Yes",
                      master_host=NODE1_IC, complete=True, eligible=True, paused=False)
    return replace(base, **kw)  # type: ignore[arg-type]


def view(db: LocalDB, peer: PeerStatus | None, *, node: str = "node2", holds_vip: bool = False,
         memory: Memory | None = None, keepalived: bool = True, app_ok: bool = True,
         paths: tuple[str, ...] = ("interconnect", "public"), answered_at: float = NOW,
         vip_since: float = 0.0) -> View:
    return View(
        now=NOW, node=node, peer_name="node1" if node == "node2" else "node2",
        keepalived_running=keepalived, vrrp="MASTER" if holds_vip else "BACKUP",
        holds_vip=holds_vip, db=db, app_ok=app_ok, apache_ok=True,
        health_problem="" if app_ok else "the application not answering",
        peer=Peer(peer, paths if peer else (), answered_at),  # type: ignore[arg-type]
        memory=memory or Memory(complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1),
        vip_since=vip_since)


def kinds(d: object) -> list[type]:
    return [type(a) for a in d.actions]  # type: ignore[attr-defined]


# ---- the table --------------------------------------------------------------------------

CASES = [
    # (name, view, config, expected actions, eligible, words in the reason)
    ("healthy replica stays", view(replica_db(), peer_primary()), CFG, [], True,
     "replica of node1 over the interconnect network, complete"),
    ("replica moves replication to the public network",
     view(replica_db(), peer_primary(), paths=("public",)), CFG, [Follow], True,
     "moves to the public network"),
    ("replica rejoins a new primary",
     view(replica_db(slave=SlaveStatus()), peer_primary(epoch=4), memory=Memory()), CFG,
     [Follow], False,
     "rejoining as its replica"),
    ("a broken replication stream means a rebuild",
     view(replica_db(slave=replace(replica_db().slave, io_running="No", io_errno=1236,
                                   last_io_error="not in the master's binlog")),
          peer_primary()), CFG, [Rebuild], False, "rebuilding"),
    ("a replica the primary does not count reconnects",
     view(replica_db(), peer_primary(semi_clients=0)), CFG, [Reconnect], True, "reconnecting"),
    ("stopped replication is started",
     view(replica_db(slave=replace(replica_db().slave, sql_running="No")), peer_primary()),
     CFG, [StartReplication], True, "starting it"),
    ("a replica never runs master-side semi-sync",
     view(replica_db(semi_master_enabled=True), peer_primary()), CFG,
     [SetSemiSync], True, "replica of node1"),
    ("VIP holder fences a live primary, then promotes",
     view(replica_db(), peer_primary(holds_vip=False), holds_vip=True, answered_at=NOW,
          vip_since=NOW - 0.2), CFG, [Promote], True, "fence node1"),
    ("VIP holder asks the peer once more before fencing",
     view(replica_db(), peer_primary(), holds_vip=True, answered_at=NOW - 0.3,
          vip_since=NOW - 0.1), CFG, [], True, "asking node1 once more"),
    ("peer silent: wait for its lease",
     view(replica_db(), None, holds_vip=True,
          memory=Memory(complete=True, peer_seen=NOW - 0.5)), CFG, [], True, "lease"),
    ("peer silent, lease over, complete: promote alone",
     view(replica_db(), None, holds_vip=True,
          memory=Memory(complete=True, peer_seen=NOW - 5)), CFG, [Promote], True,
     "committing alone"),
    ("peer silent, not complete: never promote automatically",
     view(replica_db(), None, holds_vip=True,
          memory=Memory(complete=False, peer_seen=NOW - 5)), CFG, [], False,
     "not known to hold every confirmed transaction"),
    ("operator force: promote although not complete",
     view(replica_db(), None, holds_vip=True,
          memory=Memory(complete=False, force=True, peer_seen=NOW - 5)), CFG, [Promote], True,
     "promoting"),
    ("anti-flap window", view(replica_db(epoch_age_s=2), None, holds_vip=True,
                              memory=Memory(complete=True, peer_seen=NOW - 5)), CFG, [], False,
     "no automatic failover again so soon"),
    ("paused: no promotion", view(replica_db(), None, holds_vip=True,
                                  memory=Memory(complete=True, paused=True, peer_seen=NOW - 5)),
     CFG, [], False, "paused"),
    ("unhealthy replica does not take over",
     view(replica_db(), None, holds_vip=True, app_ok=False,
          memory=Memory(complete=True, peer_seen=NOW - 5)), CFG, [], False, "not taking over"),
    ("switchover asked: promote with fencing",
     view(replica_db(), peer_primary(), memory=Memory(complete=True, switchover_to="node2",
                                                    lease_renewed=NOW, peer_seen=NOW)),
     CFG, [Promote], True, "switchover"),
    # the primary (node1's agent)
    ("healthy primary", view(primary_db(), peer_replica(), node="node1", holds_vip=True),
     CFG1, [], True, "open for writes, node2 replicating"),
    ("keepalived dead: demote and drop the VIP",
     view(primary_db(), peer_replica(), node="node1", holds_vip=True, keepalived=False),
     CFG1, [Demote, DropVip], False, "keepalived is not running"),
    ("application down: demote so that the peer takes over",
     view(primary_db(), peer_replica(), node="node1", holds_vip=True, app_ok=False),
     CFG1, [Demote], False, "node2 can take over"),
    ("newer epoch elsewhere: demote",
     view(primary_db(), peer_replica(epoch=4, epoch_primary="node2", read_only=False),
          node="node1", holds_vip=True), CFG1, [Demote], False, "newer epoch"),
    ("peer holds the VIP: demote",
     view(primary_db(), peer_replica(holds_vip=True), node="node1", holds_vip=False),
     CFG1, [Demote], False, "node2 holds the VIP"),
    ("standby silent past the lease: writes stop",
     view(primary_db(), None, node="node1", holds_vip=True,
          memory=Memory(peer_complete=True, lease_renewed=NOW - 1.0)), CFG1, [Demote], True,
     "writes stop"),
    ("standby silent within the lease: nothing yet",
     view(primary_db(), None, node="node1", holds_vip=True,
          memory=Memory(peer_complete=True, lease_renewed=NOW - 0.3)), CFG1, [], True,
     "commits wait"),
    ("degraded primary commits alone",
     view(primary_db(), None, node="node1", holds_vip=True,
          memory=Memory(peer_complete=True, degraded=True, lease_renewed=NOW - 9)), CFG1,
     [SetSemiSync], True, "degraded on purpose"),
    ("standby's database down and behind: commit alone",
     view(primary_db(), peer_replica(db_up=False, complete=False, io_running=""),
          node="node1", holds_vip=True), CFG1, [SetSemiSync], True, "committing alone"),
    ("a promoted primary finishes leaving replication",
     view(primary_db(slave=SlaveStatus(master_host="192.168.57.103")), peer_replica(),
          node="node1", holds_vip=True), CFG1, [LeaveReplication], True, "open for writes"),
    ("paused primary stays open", view(primary_db(), None, node="node1", holds_vip=True,
                                       memory=Memory(paused=True, lease_renewed=NOW - 9)),
     CFG1, [], True, "paused"),
    ("primary with writes paused reopens when the standby replicates",
     view(primary_db(read_only=True), peer_replica(), node="node1", holds_vip=True),
     CFG1, [Reopen], True, "replicates again"),
    ("primary with writes paused waits for a lost standby",
     view(primary_db(read_only=True), None, node="node1", holds_vip=True,
          memory=Memory(peer_complete=True)), CFG1, [], True, "hapair degrade"),
    ("fenced old primary rejoins", view(
        primary_db(read_only=True), peer_replica(read_only=False, epoch=4, epoch_primary="node2",
                                                 io_running="", master_host=""),
        node="node1", memory=Memory(fenced_by="node2", fenced_at=NOW)), CFG1,
     [SetSemiSync, Follow], False, "rejoining"),
    ("database down: not eligible", view(LocalDB(up=False, error="gone"), peer_primary()), CFG,
     [], False, "does not answer"),
]


@pytest.mark.parametrize(("name", "v", "cfg", "actions", "eligible", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_decide(name: str, v: View, cfg: object, actions: list[type], eligible: bool,
                words: str) -> None:
    d = decide(v, cfg)  # type: ignore[arg-type]
    assert kinds(d) == actions, d.reason
    assert d.eligible is eligible, d.reason
    assert words in d.reason


def test_promotion_with_a_live_peer_keeps_semi_sync() -> None:
    v = view(replica_db(), peer_primary(holds_vip=False), holds_vip=True, vip_since=NOW - 1)
    (action,) = decide(v, CFG).actions
    assert action == Promote(fence_peer=True, semi_sync=True)


def test_promotion_without_the_peer_commits_alone() -> None:
    v = view(replica_db(), None, holds_vip=True, memory=Memory(complete=True, peer_seen=NOW - 5))
    (action,) = decide(v, CFG).actions
    assert action == Promote(fence_peer=False, semi_sync=False)


# ---- learn: completeness ---------------------------------------------------------------------


def test_complete_when_the_primary_waits_for_us_and_we_have_its_position() -> None:
    v = view(replica_db(), peer_primary(), memory=Memory(complete=False))
    assert learn(v, CFG).complete


def test_not_yet_complete_while_behind_the_primary() -> None:
    v = view(replica_db(), peer_primary(gtid_binlog_pos="0-1-150"), memory=Memory(complete=False))
    assert not learn(v, CFG).complete


def test_incomplete_when_the_primary_commits_without_waiting() -> None:
    v = view(replica_db(), peer_primary(semi_master_on=False))
    assert not learn(v, CFG).complete


def test_losing_the_replication_connection_is_not_losing_completeness() -> None:
    """When the primary dies, the replica sees its connection drop first."""
    slave = replace(replica_db().slave, io_running="Connecting")
    v = view(replica_db(slave=slave), peer_primary())
    assert learn(v, CFG).complete


def test_a_silent_primary_leaves_completeness_as_it_was() -> None:
    for before in (True, False):
        v = view(replica_db(), None, memory=Memory(complete=before))
        assert learn(v, CFG).complete is before


def test_a_newer_primary_means_not_complete() -> None:
    v = view(replica_db(), peer_primary(epoch=4, epoch_primary="node1"))
    assert not learn(v, CFG).complete


def test_a_database_restart_loses_completeness() -> None:
    v = view(LocalDB(up=False), peer_primary())
    assert not learn(v, CFG).complete


def test_a_fence_holds_until_our_data_names_the_new_primary() -> None:
    m = Memory(fenced_by="node2", fenced_at=NOW - 1)
    held = view(primary_db(read_only=True), None, node="node1", memory=m)
    assert learn(held, CFG1).fenced_by == "node2"
    settled = view(primary_db(read_only=True, epoch=4, epoch_primary="node2"), None,
                   node="node1", memory=m)
    assert learn(settled, CFG1).fenced_by == ""


# ---- GTIDs ----------------------------------------------------------------------------------


def test_gtid_positions() -> None:
    assert gtid.contains("0-1-10,1-2-5", "0-2-9")
    assert not gtid.contains("0-1-10", "0-1-11,1-1-1")
    assert gtid.contains("0-1-10", "")
    assert gtid.errant("0-1-11", "0-2-10") == ["0-1-11"]
    assert gtid.errant("0-1-10", "0-2-10") == ["0-1-10"]  # same number, another writer
    assert gtid.errant("0-1-9", "0-2-10") == []
    assert gtid.behind("0-1-7", "0-2-10") == 3
    with pytest.raises(ValueError):
        gtid.parse("0-1")


def test_a_node_whose_vip_link_is_down_does_not_take_over() -> None:
    v = replace(view(replica_db(), None, holds_vip=True,
                     memory=Memory(complete=True, peer_seen=NOW - 5)),
                link_ok=False, health_problem="the pub0 link has no carrier")
    d = decide(v, CFG)
    assert kinds(d) == [] and not d.eligible and "not taking over" in d.reason


def test_a_service_systemd_did_not_restart_is_restarted_once() -> None:
    sick = Memory(complete=True, unhealthy_since=NOW - 5, lease_renewed=NOW, peer_seen=NOW)
    v = replace(view(replica_db(), peer_primary(), memory=sick), apache_ok=False,
                health_problem="Apache not answering")
    d = decide(v, CFG)
    assert RestartService("apache2") in d.actions and "restarting apache2" in d.reason
    recently = replace(sick, last_heal=NOW - 2)
    assert RestartService("apache2") not in decide(replace(v, memory=recently), CFG).actions
    fresh = replace(sick, unhealthy_since=NOW - 1)
    assert not decide(replace(v, memory=fresh), CFG).actions
