"""The controller's specification: views in, actions and a reason out.
No database, no mocks: decide() and learn() are pure."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from hapair import gtid
from hapair.agent.core.actions import (
    Action,
    Announce,
    Decision,
    Demote,
    DropVip,
    Follow,
    LeaveReplication,
    Promote,
    Rebuild,
    Reconnect,
    ReleaseAcks,
    Reopen,
    RestartService,
    SetSemiSync,
    StartReplication,
)
from hapair.agent.core.config import AgentConfig, from_spec
from hapair.agent.core.decide import decide
from hapair.agent.core.learn import learn
from hapair.agent.core.view import LocalDB, Memory, Peer, PeerStatus, Task, View
from hapair.model.roles import Condition, Role
from hapair.probes.mariadb import SemiSync, SlaveStatus, Thread
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

SPEC = load_spec(EXAMPLES / "lab-pair.toml").spec
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
            io=Thread.RUNNING, sql=Thread.RUNNING, master_host=NODE1_IC, master_port=3306,
            gtid_io_pos="0-1-100"),
        semi=SemiSync(slave_on=True), epoch=3, epoch_primary="node1", epoch_age_s=600)
    return replace(base, **kw)  # type: ignore[arg-type]


def primary_db(**kw: object) -> LocalDB:
    base = LocalDB(up=True, read_only=False, gtid_binlog_pos="0-1-100",
                   gtid_current_pos="0-1-100", semi_sync_master=True,
                   semi=SemiSync(master_on=True, master_clients=1), epoch=3, epoch_primary="node1",
                   epoch_age_s=600)
    return replace(base, **kw)  # type: ignore[arg-type]


def peer_primary(**kw: object) -> PeerStatus:
    base = dict(node="node1", db_up=True, read_only=False, epoch=3, epoch_primary="node1",
                gtid_binlog_pos="0-1-100", holds_vip=True, keepalived_running=True,
                semi_master_on=True, semi_clients=1, io_running="", master_host="",
                complete=True, eligible=True, paused=False)
    return PeerStatus.model_validate(base | kw)


def peer_replica(**kw: object) -> PeerStatus:
    base = dict(node="node2", db_up=True, read_only=True, epoch=3, epoch_primary="node1",
                gtid_binlog_pos="0-1-100", holds_vip=False, keepalived_running=True,
                semi_master_on=False, semi_clients=0, io_running="Yes",
                master_host=NODE1_IC, complete=True, eligible=True, paused=False)
    return PeerStatus.model_validate(base | kw)


def view(db: LocalDB, peer: PeerStatus | None, *, node: str = "node2", holds_vip: bool = False,
         memory: Memory | None = None, keepalived: bool = True, app_ok: bool = True,
         paths: tuple[str, ...] = ("interconnect", "public"), answered_at: float = NOW,
         vip_since: float = 0.0) -> View:
    m = memory or Memory(complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1)
    return View(
        now=NOW, node=node, keepalived_running=keepalived, vrrp="MASTER" if holds_vip else "BACKUP",
        holds_vip=holds_vip, db=db,
        app_problem="" if app_ok else "the application not answering (refused)",
        peer=Peer(peer, paths if peer else (), answered_at),  # type: ignore[arg-type]
        memory=replace(m, vip_since=vip_since or m.vip_since))


def acks_wait(peer: PeerStatus) -> View:
    """node1, primary, three commits waiting for an acknowledgement."""
    return view(primary_db(semi=SemiSync(master_on=True, master_clients=1, waiting_sessions=3)),
                peer, node="node1", holds_vip=True)


TIMED_OUT = "the application not answering (timed out)"


def busy_primary(peer: PeerStatus, peer_complete: bool = True) -> View:
    """node1, primary, its application's checks timing out for 12 s."""
    v = view(primary_db(), peer, node="node1", holds_vip=True)
    return replace(v, app_problem=TIMED_OUT, memory=replace(
        v.memory, slow_since=NOW - 12, unhealthy_since=NOW - 2, last_heal=NOW - 1,
        peer_complete=peer_complete))


def kinds(d: Decision) -> list[type]:
    return [type(a) for a in d.actions]


# ---- the table --------------------------------------------------------------------------

PRIMARY_LOST = Memory(complete=True, peer_seen=NOW - 5)  # the replica's: primary silent 5 s
PAUSED_MEM = Memory(peer_complete=True)  # the primary's: its standby was complete
RO_PRIMARY = primary_db(read_only=True, semi_sync_master=False)
R, P, C = Role.REPLICA, Role.PRIMARY, Role.CANDIDATE
PP, PF = Role.PRIMARY_PAUSED, Role.PRIMARY_FENCED


@dataclass(frozen=True)
class Row:
    name: str
    v: View
    actions: tuple[Action, ...]
    eligible: bool
    role: Role
    problem: bool
    words: str
    cfg: AgentConfig = CFG


def row(name: str, v: View, actions: tuple[Action, ...], *, eligible: bool, role: Role,
        problem: bool, words: str, cfg: AgentConfig = CFG) -> Row:
    return Row(name, v, actions, eligible, role, problem, words, cfg)


CASES = [
    # -- a replica (node2's agent) --
    row("healthy replica stays", view(replica_db(), peer_primary()), (), eligible=True, role=R,
        problem=False, words="replica of node1 over the interconnect network, complete"),
    row("replica moves replication to the public network",
        view(replica_db(), peer_primary(), paths=("public",)), (Follow(path="public"),),
        eligible=True, role=R, problem=False, words="moves to the public network"),
    row("replica on the public network keeps it while the interconnect is newly back",
        view(replica_db(slave=replace(replica_db().slave, master_host=NODE1_PUB)),
             peer_primary(), memory=Memory(complete=True, lease_renewed=NOW - 0.1,
                                           peer_seen=NOW - 0.1, interconnect_since=NOW - 5)),
        (), eligible=True, role=R, problem=False,
        words="replica of node1 over the public network"),
    row("replica returns to the interconnect once it has answered steadily",
        view(replica_db(slave=replace(replica_db().slave, master_host=NODE1_PUB)),
             peer_primary(), memory=Memory(complete=True, lease_renewed=NOW - 0.1,
                                           peer_seen=NOW - 0.1, interconnect_since=NOW - 31)),
        (Follow(path="interconnect"),), eligible=True, role=R, problem=False,
        words="the interconnect path has answered for 30s"),
    row("replica rejoins a new primary",
        view(replica_db(slave=SlaveStatus()), peer_primary(epoch=4), memory=Memory()),
        (Follow(path="interconnect"),), eligible=False, role=R, problem=False,
        words="rejoining as its replica"),
    row("a broken replication stream means a rebuild",
        view(replica_db(slave=replace(replica_db().slave, io=Thread.STOPPED, io_errno=1236,
                                      last_io_error="not in the master's binlog")),
             peer_primary()), (Rebuild(path="interconnect"),), eligible=False, role=R,
        problem=True, words="rebuilding"),
    row("a failed SQL thread means a rebuild too",
        view(replica_db(slave=replace(replica_db().slave, sql=Thread.STOPPED, sql_errno=1062,
                                      last_sql_error="Duplicate entry")), peer_primary(),
             paths=("public",)),
        (Rebuild(path="public"),), eligible=False, role=R, problem=True,
        words="Duplicate entry"),
    row("errant transactions: rebuild, never follow",
        view(replica_db(slave=SlaveStatus(), gtid_current_pos="0-2-101"),
             peer_primary(epoch=4, gtid_current_pos="0-1-100"), memory=Memory()),
        (Rebuild(path="interconnect"),), eligible=False, role=R, problem=True,
        words="holds transactions 0-2-101 that the primary lacks"),
    row("the primary's own transactions beyond its last report: follow, not rebuild",
        view(replica_db(slave=replace(replica_db().slave, master_host=NODE1_PUB),
                        gtid_current_pos="0-1-105"),
             peer_primary(gtid_current_pos="0-1-100"), paths=("interconnect", "public"),
             memory=Memory(complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1,
                           interconnect_since=NOW - 60)),
        (Follow(path="interconnect"),), eligible=True, role=R, problem=False,
        words="moves to the interconnect network"),
    row("a failed rebuild waits before the next try",
        view(replica_db(slave=SlaveStatus(), gtid_current_pos="0-2-101"),
             peer_primary(epoch=4), memory=Memory(rebuild_after=NOW + 12)),
        (), eligible=False, role=R, problem=True, words="next attempt in 12s"),
    row("a replica the primary does not count reconnects",
        view(replica_db(), peer_primary(semi_clients=0)), (Reconnect(),), eligible=True,
        role=R, problem=True, words="reconnecting"),
    row("a replica that just connected waits for the primary's count, never reconnects yet",
        view(replica_db(), peer_primary(semi_clients=0),
             memory=Memory(complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1,
                           replication_kicked=NOW - 1)),
        (), eligible=True, role=R, problem=True, words="waiting for its count"),
    row("stopped replication is started",
        view(replica_db(slave=replace(replica_db().slave, sql=Thread.STOPPED)), peer_primary()),
        (StartReplication(),), eligible=True, role=R, problem=True, words="starting it"),
    row("a replica never runs master-side semi-sync",
        view(replica_db(semi_sync_master=True), peer_primary()), (SetSemiSync(on=False),),
        eligible=True, role=R, problem=False, words="replica of node1"),
    row("replica with the primary's agent restarting in place waits, no problem",
        view(replica_db(), None, memory=Memory(complete=True, peer_back_until=NOW + 4)), (),
        eligible=True, role=R, problem=False, words="restarts in place, its database open"),
    row("replica with the primary unreachable waits",
        view(replica_db(), None), (), eligible=True, role=R, problem=True,
        words="node1 unreachable, waiting"),
    row("replica with the primary's database down waits",
        view(replica_db(), peer_primary(db_up=False)), (), eligible=True, role=R,
        problem=True, words="node1's database is down"),
    row("an unhealthy replica is not eligible",
        view(replica_db(), peer_primary(), app_ok=False), (), eligible=False, role=R,
        problem=True, words="not eligible: the application not answering"),
    row("a replica cut from a live primary's adverts (the interconnect down) stays out of the "
        "VIP, and replicates over the public network",
        view(replica_db(), peer_primary(vrrp="MASTER"), paths=("public",)),
        (Follow(path="public"),), eligible=False, role=R, problem=False,
        words="moves to the public network"),
    row("... and for a moment after it gave the VIP back, the interconnect seeming up",
        view(replica_db(), peer_primary(vrrp="MASTER"), memory=Memory(
            complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1,
            vip_lost_at=NOW - 0.5)), (), eligible=False, role=R, problem=True,
        words="VRRP adverts cannot reach this node"),
    row("... not after that",
        view(replica_db(), peer_primary(vrrp="MASTER"), memory=Memory(
            complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1,
            vip_lost_at=NOW - 3)), (), eligible=True, role=R, problem=False,
        words="complete"),
    # -- a candidate: node2 holds the VIP --
    row("VIP holder fences a live primary, then promotes",
        view(replica_db(), peer_primary(holds_vip=False), holds_vip=True, vip_since=NOW - 0.2),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="fence node1"),
    row("VIP holder gives the VIP back to a writable primary that may hold it (late advert)",
        view(replica_db(), peer_primary(holds_vip=False, vrrp="BACKUP"), holds_vip=True,
             vip_since=NOW - 0.2), (), eligible=False, role=R, problem=True,
        words="not taking over; the VIP goes back"),
    row("... but takes over one whose keepalived is in FAULT",
        view(replica_db(), peer_primary(holds_vip=False, vrrp="FAULT"), holds_vip=True,
             vip_since=NOW - 0.2),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="fence node1"),
    row("... one that answers on the interconnect only (its public path is broken)",
        view(replica_db(), peer_primary(holds_vip=True, vrrp="MASTER"), holds_vip=True,
             vip_since=NOW - 0.2, paths=("interconnect",)),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="fence node1"),
    row("... and one whose loop is stuck (its view is old)",
        view(replica_db(), peer_primary(holds_vip=False, vrrp="MASTER", view_age_s=12.0),
             holds_vip=True, vip_since=NOW - 0.2),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="fence node1"),
    row("VIP holder asks the peer once more before fencing",
        view(replica_db(), peer_primary(), holds_vip=True, answered_at=NOW - 0.3,
             vip_since=NOW - 0.1), (), eligible=True, role=C, problem=False,
        words="asking node1 once more"),
    row("peer's database down, replica complete: fence, promote alone",
        view(replica_db(), peer_primary(db_up=False), holds_vip=True, vip_since=NOW - 1),
        (Promote(close_peer=True, semi_sync=False),), eligible=True, role=Role.PROMOTING,
        problem=False, words="fence node1"),
    row("peer's database down, replica not complete: no promotion",
        view(replica_db(slave=replace(replica_db().slave, io=Thread.CONNECTING)),
             peer_primary(db_up=False), holds_vip=True, vip_since=NOW - 1,
             memory=Memory(complete=False)), (), eligible=False, role=R, problem=True,
        words="node1's database is down and this node may lack confirmed transactions"),
    row("peer silent: wait for its lease",
        view(replica_db(), None, holds_vip=True, memory=Memory(complete=True, peer_seen=NOW - 0.5)),
        (), eligible=True, role=C, problem=False, words="lease"),
    row("peer silent, lease over, complete: promote alone",
        view(replica_db(), None, holds_vip=True, memory=PRIMARY_LOST),
        (Promote(close_peer=False, semi_sync=False),), eligible=True, role=Role.PROMOTING,
        problem=False, words="committing alone"),
    row("peer silent past its lease, its agent restarting in place: wait for the window",
        view(replica_db(), None, holds_vip=True,
             memory=replace(PRIMARY_LOST, peer_back_until=NOW + 3)),
        (), eligible=True, role=C, problem=False,
        words="restart in place has ended (3.4s)"),
    row("peer silent past its restart window and the margin: promote alone",
        view(replica_db(), None, holds_vip=True,
             memory=replace(PRIMARY_LOST, peer_back_until=NOW - 0.5)),
        (Promote(close_peer=False, semi_sync=False),), eligible=True, role=Role.PROMOTING,
        problem=False, words="committing alone"),
    row("peer silent, not complete: never promote automatically",
        view(replica_db(), None, holds_vip=True, memory=Memory(complete=False, peer_seen=NOW - 5)),
        (), eligible=False, role=R, problem=True,
        words="not known to hold every confirmed transaction"),
    row("operator force: promote although not complete",
        view(replica_db(), None, holds_vip=True,
             memory=Memory(complete=False, force=True, peer_seen=NOW - 5)),
        (Promote(close_peer=False, semi_sync=False),), eligible=True, role=Role.PROMOTING,
        problem=False, words="promoting"),
    row("anti-flap window", view(replica_db(epoch_age_s=2), None, holds_vip=True,
                                 memory=PRIMARY_LOST), (), eligible=False, role=R,
        problem=True, words="no automatic failover again so soon"),
    row("paused: no promotion", view(replica_db(), None, holds_vip=True,
                                     memory=replace(PRIMARY_LOST, paused=True)),
        (), eligible=False, role=Role.PAUSED, problem=False, words="paused"),
    row("in maintenance: no promotion when the primary dies, the VIP given back",
        view(replica_db(), None, holds_vip=True, memory=replace(PRIMARY_LOST, maintenance=True)),
        # a problem all the same: nobody takes over (the operator's choice)
        (), eligible=False, role=R, problem=True, words="in maintenance (out of failover)"),
    row("in maintenance: replicates from a live primary, never eligible",
        view(replica_db(), peer_primary(), memory=Memory(complete=True, maintenance=True,
                                                       lease_renewed=NOW, peer_seen=NOW)),
        (), eligible=False, role=R, problem=False, words="in maintenance (out of failover)"),
    row("in maintenance: the operator's switchover still promotes",
        view(replica_db(), peer_primary(), memory=Memory(complete=True, switchover_to="node2",
                                                       maintenance=True, lease_renewed=NOW,
                                                       peer_seen=NOW)),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="switchover"),
    row("unhealthy replica does not take over",
        view(replica_db(), None, holds_vip=True, app_ok=False, memory=PRIMARY_LOST), (),
        eligible=False, role=R, problem=True, words="not taking over"),
    row("switchover asked: promote with fencing",
        view(replica_db(), peer_primary(), memory=Memory(complete=True, switchover_to="node2",
                                                       lease_renewed=NOW, peer_seen=NOW)),
        (Promote(close_peer=True, semi_sync=True),), eligible=True, role=Role.PROMOTING,
        problem=False, words="switchover"),
    # -- the primary (node1's agent) --
    row("healthy primary", view(primary_db(), peer_replica(), node="node1", holds_vip=True),
        (), eligible=True, role=P, problem=False, words="open for writes, node2 replicating",
        cfg=CFG1),
    row("commits wait for what the replica holds: their acknowledgements were lost, let go",
        acks_wait(peer_replica(gtid_io_pos="0-1-100")),
        (ReleaseAcks(held="0-1-100"),), eligible=True, role=P, problem=False,
        words="open for writes", cfg=CFG1),
    row("... reported as applied only (its IO thread reconnecting)",
        acks_wait(peer_replica(gtid_current_pos="0-1-100")),
        (ReleaseAcks(held="0-1-100"),), eligible=True, role=P, problem=False,
        words="open for writes", cfg=CFG1),
    row("commits wait for what the replica lacks: they wait",
        acks_wait(peer_replica(gtid_io_pos="0-1-99")),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("commits wait, the replica's number as high but another server's: they wait",
        acks_wait(peer_replica(gtid_io_pos="0-2-100")),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("no commit waits: nothing to let go",
        view(primary_db(), peer_replica(gtid_io_pos="0-1-100"), node="node1", holds_vip=True),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("keepalived dead: demote and drop the VIP",
        view(primary_db(), peer_replica(), node="node1", holds_vip=True, keepalived=False),
        (Demote(), DropVip()), eligible=False, role=PF, problem=True,
        words="keepalived is not running", cfg=CFG1),
    row("fenced while writable: demote",
        view(primary_db(), peer_replica(), node="node1", holds_vip=True,
             memory=Memory(fenced_by="node2", fenced_at=NOW, lease_renewed=NOW)),
        (Demote(),), eligible=False, role=PF, problem=True, words="node2 fenced this node",
        cfg=CFG1),
    row("application down: demote so that the peer takes over",
        view(primary_db(), peer_replica(), node="node1", holds_vip=True, app_ok=False),
        (Demote(),), eligible=False, role=PF, problem=True, words="node2 can take over",
        cfg=CFG1),
    # -- busy, dead, or starved: the health model (the checks time out: busy) --
    row("busy primary, a well complete peer: gives way once the grace is over",
        busy_primary(peer_replica(app_ok=True, apache_ok=True)), (Demote(),), eligible=False,
        role=PF, problem=True,
        words="node2 can take over", cfg=CFG1),
    row("busy primary, a peer as starved: keeps the VIP and its writes",
        busy_primary(peer_replica(app_ok=False, health_problem=TIMED_OUT)), (),
        eligible=True, role=P, problem=True, words="busy, not dead", cfg=CFG1),
    row("busy primary, a peer not ready to take over: keeps the VIP",
        busy_primary(peer_replica(app_ok=True, apache_ok=True, eligible=False, complete=False),
                     peer_complete=False), (),
        eligible=True, role=P, problem=True, words="node2 would serve no better", cfg=CFG1),
    row("dead application on the primary, a busy peer: still gives way (busy beats dead)",
        replace(busy_primary(peer_replica(app_ok=False, health_problem=TIMED_OUT)),
                app_problem="the application not answering (refused)"),
        (Demote(),), eligible=False, role=PF, problem=True, words="node2 can take over",
        cfg=CFG1),
    row("newer epoch elsewhere: demote",
        view(primary_db(), peer_replica(epoch=4, epoch_primary="node2", read_only=False),
             node="node1", holds_vip=True), (Demote(),), eligible=False, role=PF, problem=True,
        words="newer epoch", cfg=CFG1),
    row("peer holds the VIP and is promoting: demote",
        view(primary_db(), peer_replica(holds_vip=True, role="promoting"), node="node1",
             holds_vip=False),
        (Demote(),), eligible=False, role=PF, problem=True, words="node2 holds the VIP",
        cfg=CFG1),
    row("a primary of an older epoch, resumed from a pause, took the VIP with its old "
        "priority: writes go on here (it gives it back)",
        view(primary_db(), peer_replica(holds_vip=True, read_only=False, role="primary",
                                        epoch=2, epoch_primary="node2"),
             node="node1", holds_vip=False),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("a replica holds the VIP but is not taking over (a late advert): writes go on",
        view(primary_db(), peer_replica(holds_vip=True, role="replica"), node="node1",
             holds_vip=False),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("the peer this node just fenced keeps the VIP a moment (its drain): writes go on",
        view(primary_db(), peer_replica(holds_vip=True), node="node1", holds_vip=False,
             memory=Memory(peer_complete=True, lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1,
                           peer_fenced_at=NOW - 0.3)),
        (), eligible=True, role=P, problem=False, words="open for writes", cfg=CFG1),
    row("standby silent past the lease: writes stop",
        view(primary_db(), None, node="node1", holds_vip=True,
             memory=Memory(peer_complete=True, lease_renewed=NOW - 1.0)),
        (Demote(),), eligible=True, role=PP, problem=True, words="writes stop", cfg=CFG1),
    row("a new agent, restarted in place, before the standby's first answer: writes go on",
        view(primary_db(), None, node="node1", holds_vip=True,
             memory=Memory(lease_renewed=0.0, restart_until=NOW + 6)),
        (), eligible=True, role=P, problem=False, words="commits wait", cfg=CFG1),
    row("standby silent within the lease: nothing yet",
        view(primary_db(), None, node="node1", holds_vip=True,
             memory=Memory(peer_complete=True, lease_renewed=NOW - 0.3)),
        (), eligible=True, role=P, problem=False, words="commits wait", cfg=CFG1),
    row("degraded primary commits alone, and says where the VIP is",
        view(primary_db(), None, node="node1", holds_vip=True,
             memory=Memory(peer_complete=True, degraded=True, lease_renewed=NOW - 9)),
        (SetSemiSync(on=False), Announce()), eligible=True, role=P, problem=True,
        words="degraded on purpose", cfg=CFG1),
    row("standby's database down and behind: commit alone, say where the VIP is",
        view(primary_db(), peer_replica(db_up=False, complete=False, io_running=""),
             node="node1", holds_vip=True), (SetSemiSync(on=False), Announce()), eligible=True,
        role=P, problem=True, words="committing alone", cfg=CFG1),
    # After a partition the old primary may have held the VIP a moment; the
    # primary committing alone re-announces it every 2 s, not every cycle.
    row("committing alone, announced a moment ago: not again yet",
        view(primary_db(semi_sync_master=False),
             peer_replica(db_up=False, complete=False, io_running=""), node="node1",
             holds_vip=True, memory=Memory(announced_at=NOW - 1.0)),
        (), eligible=True, role=P, problem=True, words="committing alone", cfg=CFG1),
    row("the standby holds the VIP beside the primary (it missed the adverts: the "
        "interconnect cut) and gives it back: the primary says where the VIP is",
        view(primary_db(), peer_replica(holds_vip=True), node="node1", holds_vip=True),
        (Announce(),), eligible=True, role=P, problem=False, words="open for writes",
        cfg=CFG1),
    row("the interconnect cut (the peer answers on the public network only): the primary "
        "says where the VIP is, the peer's keepalived having missed its adverts",
        view(primary_db(), peer_replica(), node="node1", holds_vip=True, paths=("public",)),
        (Announce(),), eligible=True, role=P, problem=False, words="open for writes",
        cfg=CFG1),
    row("a standby back replicating: semi-sync on again",
        view(primary_db(semi_sync_master=False), peer_replica(), node="node1", holds_vip=True),
        (SetSemiSync(on=True),), eligible=True, role=P, problem=False,
        words="node2 replicating (semi-sync)", cfg=CFG1),
    row("a promoted primary finishes leaving replication",
        view(primary_db(slave=SlaveStatus(master_host="192.168.57.103")), peer_replica(),
             node="node1", holds_vip=True), (LeaveReplication(),), eligible=True, role=P,
        problem=False, words="open for writes", cfg=CFG1),
    row("paused primary stays open", view(primary_db(), None, node="node1", holds_vip=True,
                                          memory=Memory(paused=True, lease_renewed=NOW - 9)),
        (), eligible=True, role=P, problem=False, words="paused", cfg=CFG1),
    # -- the primary by epoch with writes paused: every branch --
    row("paused primary that is unhealthy stays closed and ineligible",
        view(RO_PRIMARY, peer_replica(), node="node1", holds_vip=True, app_ok=False),
        (), eligible=False, role=PP, problem=True, words="read-only: the application",
        cfg=CFG1),
    row("paused primary waits while the peer holds the VIP",
        view(RO_PRIMARY, peer_replica(holds_vip=True), node="node1"),
        (), eligible=True, role=PP, problem=True, words="waiting for it to take over", cfg=CFG1),
    row("paused primary opens only holding the VIP",
        view(RO_PRIMARY, peer_replica(), node="node1"), (), eligible=True, role=PP,
        problem=True, words="opening only while holding the VIP", cfg=CFG1),
    row("paused primary degraded by the operator reopens alone",
        view(RO_PRIMARY, None, node="node1", holds_vip=True,
             memory=replace(PAUSED_MEM, degraded=True)), (Reopen(semi_sync=False),),
        eligible=True, role=P, problem=False, words="degraded on purpose", cfg=CFG1),
    row("primary with writes paused reopens when the standby replicates",
        view(RO_PRIMARY, peer_replica(), node="node1", holds_vip=True),
        (Reopen(semi_sync=True),), eligible=True, role=P, problem=False,
        words="replicates again", cfg=CFG1),
    row("paused primary reopens alone when the standby knows it is behind",
        view(RO_PRIMARY, peer_replica(complete=False, io_running="No"), node="node1",
             holds_vip=True), (Reopen(semi_sync=False),), eligible=True, role=P,
        problem=False, words="knows it is behind", cfg=CFG1),
    row("paused primary waits for a complete standby to replicate",
        view(RO_PRIMARY, peer_replica(io_running="Connecting", master_host=""), node="node1",
             holds_vip=True), (), eligible=True, role=PP, problem=True,
        words="waiting for node2 to replicate", cfg=CFG1),
    row("paused primary opens alone when the lost standby was not complete",
        view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=Memory()),
        (Reopen(semi_sync=False),), eligible=True, role=P, problem=False,
        words="cannot take over", cfg=CFG1),
    row("primary with writes paused waits for a lost standby",
        view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=PAUSED_MEM),
        (), eligible=True, role=PP, problem=True, words="hapair degrade", cfg=CFG1),
    row("fenced old primary rejoins", view(
        primary_db(read_only=True), peer_replica(read_only=False, epoch=4, epoch_primary="node2",
                                                 io_running="", master_host=""),
        node="node1", memory=Memory(fenced_by="node2", fenced_at=NOW)),
        (SetSemiSync(on=False), Follow(path="interconnect")), eligible=False, role=R,
        problem=False, words="rejoining", cfg=CFG1),
    # Seen in the switchover drill: 14 ms after the fence, the old primary
    # judged its last commit errant against the promoting peer's replica
    # position and rebuilt itself (the new primary then committed alone).
    row("fenced old primary waits for the fencer's epoch, judging nothing", view(
        primary_db(read_only=True, gtid_binlog_pos="0-1-101", gtid_current_pos="0-1-101"),
        peer_replica(gtid_binlog_pos="0-1-100", gtid_current_pos="0-1-100", io_running="Yes"),
        node="node1", memory=Memory(fenced_by="node2", fenced_at=NOW, complete=True)),
        (), eligible=False, role=R, problem=False, words="waiting for it to open", cfg=CFG1),
    row("database down: not eligible", view(LocalDB(up=False, error="gone"), peer_primary()),
        (), eligible=False, role=Role.DOWN, problem=True, words="does not answer"),
    row("database down, keepalived dead, VIP here: drop it",
        view(LocalDB(up=False, error="gone"), peer_primary(), holds_vip=True, keepalived=False),
        (DropVip(),), eligible=False, role=Role.DOWN, problem=True, words="does not answer"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Row) -> None:
    d = decide(case.v, case.cfg)
    assert d.actions == case.actions, d.reason
    assert d.eligible is case.eligible, d.reason
    assert d.role is case.role, d.reason
    assert d.problem is case.problem, d.reason
    assert case.words in d.reason, d.reason


def test_standby_lost_is_a_condition_not_words() -> None:
    for v in (view(RO_PRIMARY, None, node="node1", holds_vip=True, memory=PAUSED_MEM),
              view(primary_db(), None, node="node1", holds_vip=True,
                   memory=Memory(peer_complete=True, lease_renewed=NOW - 1.0))):
        assert decide(v, CFG1).condition is Condition.STANDBY_LOST
    assert decide(view(replica_db(), peer_primary()), CFG).condition is Condition.NONE


# ---- long actions ---------------------------------------------------------------------------


def test_while_a_rebuild_runs_the_loop_judges_but_only_closes() -> None:
    task = Task(Role.REBUILDING, "rebuilding from node1", NOW - 42)
    v = view(replica_db(semi_sync_master=True), peer_primary(), memory=Memory(task=task))
    d = decide(v, CFG)
    assert d.role is Role.REBUILDING and d.actions == ()
    assert d.reason.startswith("rebuilding from node1 (under way); meanwhile: replica of node1")
    assert "[held: SetSemiSync]" in d.reason


def test_a_promotion_under_way_still_closes_on_keepalived_loss() -> None:
    task = Task(Role.PROMOTING, "promoting", NOW - 1)
    v = view(primary_db(), peer_replica(), node="node1", holds_vip=True, keepalived=False,
             memory=Memory(task=task, lease_renewed=NOW))
    d = decide(v, CFG1)
    assert d.actions == (Demote(), DropVip()) and d.role is Role.PROMOTING and not d.eligible


def test_decide_imports_no_io_module() -> None:
    """Nor does anything they import, however deep (hapair's own modules
    followed; pathlib counts: a path is read from somewhere)."""
    from pathlib import Path

    import hapair
    from tests.support.imports import imported

    root = Path(hapair.__file__).parent.parent
    # Every module of the agent's core is pure, whatever it is called.
    pure = sorted(p.stem for p in (root / "hapair/agent/core").glob("*.py")
                  if p.stem != "__init__")
    assert {"decide", "standby", "learn", "view", "lease_rules", "command_rules"} <= set(pure)
    io_modules = {"db", "observe", "peer", "act", "loop", "api", "rebuild", "fencing", "guard",
                  "node", "server",
                  "dcs", "witness", "requests", "etcd3gw", "pathlib",
                  "tasks", "commands", "fifo", "intent", "takeover", "pymysql", "subprocess",
                  "socket", "urllib", "http", "threading", "os"}

    def imports(module: str) -> set[str]:
        return imported(root / f"{module.replace('.', '/')}.py")

    for name in pure:
        todo, seen = [f"hapair.agent.core.{name}"], set()
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            found = imports(module)
            last = {m.split(".")[-1] for m in found} | {m.split(".")[0] for m in found}
            assert not last & io_modules, (name, "via", module, last & io_modules)
            todo += [m for m in found if m.startswith("hapair.")
                     and (root / f"{m.replace('.', '/')}.py").exists()]
        assert len(seen) > 1 or name == "events"



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
    slave = replace(replica_db().slave, io=Thread.CONNECTING)
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
    # Beyond the primary's report but written by the primary itself: the
    # report is a poll old; not errant (MariaDB's own check covers the rest).
    assert gtid.errant("0-1-13621", "0-1-13619", primary_server=1) == []
    assert gtid.errant("0-2-13621", "0-1-13619", primary_server=1) == ["0-2-13621"]
    assert gtid.errant("0-1-13619", "0-3-13619", primary_server=1) == ["0-1-13619"]
    assert gtid.behind("0-1-7", "0-2-10") == 3
    # What a replica holds, for letting go commits waiting for it: the same
    # writer's GTID, as far or further, in every domain.
    assert gtid.received_all("0-1-12,1-3-4", "0-1-12")
    assert gtid.received_all("0-1-13", "0-1-12")
    assert not gtid.received_all("0-1-11", "0-1-12")
    assert not gtid.received_all("0-2-12", "0-1-12")  # as far, another writer's
    assert not gtid.received_all("", "0-1-12")
    assert not gtid.received_all("0-1-12", "0-1-12,1-1-3")
    with pytest.raises(ValueError):
        gtid.parse("0-1")


def test_a_node_whose_vip_link_is_down_does_not_take_over() -> None:
    v = replace(view(replica_db(), None, holds_vip=True,
                     memory=Memory(complete=True, peer_seen=NOW - 5)),
                link_problem="the pub0 link has no carrier")
    d = decide(v, CFG)
    assert kinds(d) == [] and not d.eligible and "not taking over" in d.reason


def test_a_service_systemd_did_not_restart_is_restarted_once() -> None:
    sick = Memory(complete=True, unhealthy_since=NOW - 5, lease_renewed=NOW, peer_seen=NOW)
    v = replace(view(replica_db(), peer_primary(), memory=sick),
                apache_problem="Apache not answering (refused)")
    d = decide(v, CFG)
    assert RestartService("apache2") in d.actions and "restarting apache2" in d.reason
    recently = replace(sick, last_heal=NOW - 2)
    assert RestartService("apache2") not in decide(replace(v, memory=recently), CFG).actions
    fresh = replace(sick, unhealthy_since=NOW - 1)
    assert not decide(replace(v, memory=fresh), CFG).actions


def test_a_busy_application_is_restarted_only_once_it_looks_hung() -> None:
    """A service whose checks time out is working through requests: it is
    restarted only after BUSY_HEAL_S of time-outs without a break."""
    starved = peer_replica(app_ok=False, health_problem=TIMED_OUT)
    v = busy_primary(starved)
    v = replace(v, memory=replace(v.memory, last_heal=0.0, unhealthy_since=NOW - 20,
                                  slow_since=NOW - 30))
    assert not any(isinstance(a, RestartService) for a in decide(v, CFG1).actions)
    hung = replace(v, memory=replace(v.memory, slow_since=NOW - 61))
    assert RestartService("hapair-app") in decide(hung, CFG1).actions


# ---- learn: the rest of the memory ------------------------------------------------------------


def test_degraded_clears_once_the_standby_has_caught_up() -> None:
    m = Memory(degraded=True, lease_renewed=NOW, peer_seen=NOW)
    near = view(primary_db(gtid_binlog_pos="0-1-900"), peer_replica(gtid_binlog_pos="0-1-100"),
                node="node1", holds_vip=True, memory=m)
    assert not learn(near, CFG1).degraded
    far = view(primary_db(gtid_binlog_pos="0-1-5000"), peer_replica(gtid_binlog_pos="0-1-100"),
               node="node1", holds_vip=True, memory=m)
    assert learn(far, CFG1).degraded
    away = view(primary_db(), None, node="node1", holds_vip=True, memory=m)
    assert learn(away, CFG1).degraded


def test_the_vip_clock_starts_when_the_vip_arrives() -> None:
    v = view(replica_db(), peer_primary(), holds_vip=True)
    assert learn(v, CFG).vip_since == NOW
    held = replace(v, memory=replace(v.memory, vip_since=NOW - 3))
    assert learn(held, CFG).vip_since == NOW - 3
    assert learn(view(replica_db(), peer_primary(), vip_since=NOW - 3), CFG).vip_since == 0


def test_a_busy_application_counts_only_after_the_grace() -> None:
    busy = replace(view(replica_db(), peer_primary()),
                   app_problem="the application not answering (timed out)")
    first = learn(busy, CFG)
    assert first.slow_since == NOW and first.unhealthy_since == 0
    assert replace(busy, memory=first).healthy
    later = replace(busy, now=NOW + 10.5, memory=first)
    assert not later.healthy and learn(later, CFG).unhealthy_since == NOW + 10.5
    refused = replace(busy, app_problem="the application not answering (refused)")
    assert not refused.healthy and learn(refused, CFG).unhealthy_since == NOW
    fine = replace(busy, app_problem="", memory=first)
    assert learn(fine, CFG).slow_since == 0
    # Refused (down), then timing out (starting again): the patience starts afresh.
    down = replace(refused, now=NOW + 20, memory=first)
    assert learn(down, CFG).slow_since == 0


def test_learn_keeps_what_it_does_not_learn() -> None:
    m = Memory(paused=True, switchover_to="node2", force=True, last_heal=NOW - 1,
               task=Task(Role.PROMOTING, "promoting", NOW), rebuild_after=NOW + 5,
               lease_renewed=NOW - 0.1, peer_seen=NOW - 0.1)
    got = learn(view(replica_db(), peer_primary(), memory=m), CFG)
    for name in ("paused", "switchover_to", "force", "last_heal", "task", "rebuild_after",
                 "lease_renewed", "peer_seen"):
        assert getattr(got, name) == getattr(m, name), name


def test_learn_keeps_when_the_interconnect_started_answering() -> None:
    fresh = learn(view(replica_db(), peer_primary(), memory=Memory()), CFG)
    assert fresh.interconnect_since == NOW  # answering from now on
    steady = learn(view(replica_db(), peer_primary(),
                        memory=Memory(interconnect_since=NOW - 40)), CFG)
    assert steady.interconnect_since == NOW - 40  # without a break since
    cut = learn(view(replica_db(), peer_primary(), paths=("public",),
                     memory=Memory(interconnect_since=NOW - 40)), CFG)
    assert cut.interconnect_since == 0.0


# ---- the database's own commits stuck (agent/node/db_lease.py) -------------------------------

STUCK = "the database's commits timed out for 4.0s (the agent's own row, never replicated: x)"


def test_a_primary_whose_commits_are_stuck_gives_way_to_a_standby_that_would_serve() -> None:
    """Seen: a backup's BLOCK_COMMIT queued behind a stuck ALTER held every
    commit for 7 minutes while the status said "committing alone"."""
    v = view(primary_db(), peer_replica(app_ok=True, apache_ok=True), node="node1",
             holds_vip=True)
    stuck = replace(v, commit_problem=STUCK, memory=replace(v.memory, peer_complete=True))
    assert not stuck.healthy and stuck.busy and stuck.health_problem == STUCK
    d = decide(stuck, CFG1)
    assert Demote() in d.actions and not d.eligible and "node2 can take over" in d.reason
    # No restart of the application or Apache: neither is what is stuck.
    later = replace(stuck, memory=replace(stuck.memory, unhealthy_since=NOW - 60))
    assert not any(isinstance(a, RestartService) for a in decide(later, CFG1).actions)


def test_stuck_commits_with_no_better_standby_keep_the_vip_and_say_so() -> None:
    v = replace(busy_primary(peer_replica(app_ok=False, health_problem=TIMED_OUT)),
                commit_problem=STUCK, app_problem="")
    d = decide(v, CFG1)
    assert d.eligible and d.problem and "commits timed out" in d.reason
    assert "busy, not dead" in d.reason


def test_commits_count_as_stuck_only_after_their_own_patience() -> None:
    from hapair.agent.node.db_lease import COMMIT_STUCK_S, commits_stuck
    assert commits_stuck(0.0, NOW) == ""
    assert commits_stuck(NOW - COMMIT_STUCK_S + 0.1, NOW) == ""
    assert "timed out for 3.5s" in commits_stuck(NOW - 3.5, NOW)


def test_only_a_write_that_waited_counts_toward_stuck_commits() -> None:
    from hapair.agent.node.db_lease import timed_out
    assert timed_out("(2013, 'Lost connection to MySQL server during query (timed out)')")
    assert timed_out("(1205, 'Lock wait timeout exceeded; try restarting transaction')")
    assert not timed_out("(1146, \"Table 'hapair_meta.lease' doesn't exist\")")


def test_a_paused_primary_whose_commits_are_stuck_is_not_eligible() -> None:
    """The lease watch's `SET GLOBAL read_only = ON`, waiting behind the
    lock, already reads ON: the primary by epoch, read-only, must not try to
    reopen (each try waited 3 s) but give the VIP away."""
    v = view(primary_db(read_only=True), peer_replica(app_ok=True, apache_ok=True),
             node="node1", holds_vip=True)
    d = decide(replace(v, commit_problem=STUCK), CFG1)
    assert not d.eligible and not d.actions and "commits timed out" in d.reason
