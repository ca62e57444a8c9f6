"""Carrying out decisions: the thin layer between decide() and the world.
It reaches the agent only through the narrow ``Runtime`` protocol."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Protocol

from hapair.agent.core import events as ev
from hapair.agent.core.actions import (
    Action,
    Announce,
    ClaimLeader,
    Demote,
    DropVip,
    FencePeer,
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
    WriteSync,
)
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import Memory, View
from hapair.agent.node import observe, rebuild
from hapair.agent.node.db import OPEN_SQL, Database, DBError, Endpoint, follow_timeouts
from hapair.agent.node.fencing import Abort, close_peer, power_off
from hapair.agent.node.lost_acks import Releaser
from hapair.agent.node.peer import Contact, PeerClient
from hapair.agent.node.takeover import take_over
from hapair.agent.node.tasks import TaskRunner
from hapair.agent.node.witness import Keeper
from hapair.model.roles import Role
from hapair.probes import units

log = logging.getLogger("hapair.agent")

OPENING = (Promote, Reopen)
# A unit (re)started less than this ago is left to start, however its check fails.
RESTARTED_GRACE_S = 15.0
# What the statements of one action on the loop's thread may take in all
# (their timeouts; a connection the server closed is tried once more, at
# once): inside the guard's STALL_S with a cycle's probes, after which
# /alive fails and the watchdog's pings stop. STOP SLAVE and the rest took
# 10 + 3 x 3 s before. A statement that times out fails the action (the
# server goes on stopping), and the next cycle tries again.
LOOP_STATEMENTS_S = 6.0


class Runtime(Protocol):
    """What carrying out an action may touch of the agent."""

    cfg: AgentConfig
    db: Database
    peer_client: PeerClient
    contact: Contact  # the lease's times (a fence's answer renews it)
    admin_password: str
    replication_password: str
    datadir: str
    fence_password: str
    tasks: TaskRunner
    keeper: Keeper | None  # the witness's keys (None: no witness)
    acks: Releaser  # lets go commits whose acknowledgements were lost

    # Held by a fence (commands.fenced) while it records who fenced this
    # node, and here while the last check and read_only=OFF happen: a fence
    # that comes while this node opens is never undone by the opening.
    open_lock: threading.Lock

    memory: Memory  # writes_closed_at: the guard's last self-fence

    def fenced_by(self) -> str: ...

    def record(self, event: ev.Event) -> None: ...

    def stop_app(self) -> None: ...

    def task_failed(self, action: Action, exc: BaseException) -> None: ...

    def fence_counted(self, ok: bool) -> None: ...

    def alert(self, event: str, detail: str) -> None: ...


def carry_out(rt: Runtime, view: View, action: Action) -> None:
    cfg, db = rt.cfg, rt.db
    if isinstance(action, OPENING) and rt.fenced_by():
        raise Abort(f"fenced by {rt.fenced_by()} since this cycle began: not opening")
    age = evidence_age(view, time.monotonic())
    if isinstance(action, OPENING) and age > cfg.lease_s:
        # This process was frozen between looking and acting, or the peer's
        # answer in the view was: what it saw is stale, and the peer may have
        # taken over meanwhile. Look again.
        raise Abort(f"the view is {age:.1f}s old (was this agent frozen?): not opening")
    match action:
        case Demote():
            db.close_writes(cfg.app_user, stop_clients=rt.stop_app)
            log.info("read_only=ON: writes stopped")
        case Announce():
            rt.record(ev.Announced(time.monotonic()))
            observe.announce(cfg.vip_device, cfg.vip)
        case DropVip():
            # On lo first, so that answers in flight still leave from it
            # (as after a drain, commands.py; keepalived's own drops
            # linger too, render/keepalived.py).
            observe.linger_for(cfg.vip, observe.LINGER_S)
            observe.drop_address(cfg.vip_device, cfg.vip, cfg.vip_prefix)
            log.info("dropped the VIP %s from %s", cfg.vip, cfg.vip_device)
        case SetSemiSync(on=on):
            db.set_semi_sync(on)
            log.info("semi-sync on the primary %s", "on" if on else "off")
        case Reopen(semi_sync=semi):
            open_writes(rt, semi, view.now)
            log.info("read_only=OFF: open for writes (semi-sync %s)", "on" if semi else "off")
        case Promote():
            _long(rt, Role.PROMOTING, "promoting", lambda: promote(rt, view, action), action)
        case Rebuild(path=path):
            _long(rt, Role.REBUILDING, f"rebuilding from {cfg.peer}",
                  lambda: rebuild_from_peer(rt, path), action)
        case FencePeer():
            _long(rt, Role.FENCING, f"fencing {cfg.peer}", lambda: fence_power_off(rt), action)
        case Follow(path=path):
            host = cfg.peer_addresses[path]
            left = cfg.peer_path_of(view.db.slave.master_host)
            if left is not None and left != path:
                # Beside the loop: over a path that stops answering as it is
                # taken, its connect alone held the loop 2 s and a promotion
                # waited behind it (the starved pair's partition drill).
                threading.Thread(target=end_old_dump, args=(rt, path, cfg.my_addresses[left]),
                                 name="end-old-dump", daemon=True).start()
            db.follow(host, cfg.db_port, cfg.replication_user, rt.replication_password,
                      semi_sync=cfg.semi_sync, budget=LOOP_STATEMENTS_S)
            rt.record(ev.ReplicationKicked(time.monotonic()))
            log.info("replicating from %s at %s (%s network)", cfg.peer, host, path)
        case StartReplication():
            db.start_replication()
            rt.record(ev.ReplicationKicked(time.monotonic()))
        case Reconnect():
            rt.record(ev.ReplicationKicked(time.monotonic()))
            stop, each = follow_timeouts(LOOP_STATEMENTS_S)
            db.execute("STOP SLAVE IO_THREAD", timeout=stop)
            db.execute("SET GLOBAL rpl_semi_sync_slave_enabled = ON", timeout=each)
            db.execute("START SLAVE IO_THREAD", timeout=each)
            log.info("replication reconnected to %s (semi-sync client again)", cfg.peer)
        case RestartService(unit=unit):
            rt.record(ev.Healed(time.monotonic()))
            since = units.parse_since(subprocess.run(
                units.since_command(unit), capture_output=True, text=True, timeout=5).stdout)
            if since.settling(time.monotonic(), RESTARTED_GRACE_S):
                # Someone is restarting it already, or just did (an operator,
                # a rolling apply): a graceful stop, then gunicorn's start on a
                # busy host, refuse connections for seconds. A second restart
                # then made the roll's new primary fail its check mid-switchover.
                log.info("%s failing its check but %s since %.1fs: left to start", unit,
                         since.state, time.monotonic() - since.at)
                return
            # Queued, not waited for: a stop waits out the graceful timeout,
            # and the loop must not wait with it.
            subprocess.run(["systemctl", "restart", "--no-block", unit], capture_output=True,
                           timeout=5)
            log.warning("restarting %s: its check kept failing and systemd had not", unit)
        case LeaveReplication():
            db.leave_replication_later()
        case ReleaseAcks(held=held):
            rt.acks.later(held)
        case ClaimLeader():
            _keeper(rt).claim(view.db.epoch)
        case WriteSync(complete=complete):
            _keeper(rt).write_sync(complete)


def _keeper(rt: Runtime) -> Keeper:
    if rt.keeper is None:
        raise Abort("no witness in the spec")
    return rt.keeper


def _long(rt: Runtime, kind: Role, what: str, work: Callable[[], None], action: Action) -> None:
    if not rt.tasks.start(kind, what, work, lambda exc: rt.task_failed(action, exc)):
        raise Abort("another long action is under way")


def fence_power_off(rt: Runtime) -> None:
    log.warning("fencing %s: powering it off through its fence device", rt.cfg.peer)
    try:
        note = power_off(rt.cfg, rt.fence_password)
    except Exception:
        rt.fence_counted(ok=False)
        raise
    rt.fence_counted(ok=True)
    rt.record(ev.PeerPoweredOff(time.monotonic(), note))
    log.warning("fenced: %s", note)
    rt.alert("fence", note)
    cfg = rt.cfg
    if cfg.vip in observe.addresses(cfg.vip_device):
        # In a partition the peer held the VIP too: clients may still send to
        # its MAC, now powered off. Say once where the VIP is.
        observe.announce(cfg.vip_device, cfg.vip)
        log.info("announcing the VIP %s on %s (gratuitous ARP)", cfg.vip, cfg.vip_device)


def promote(rt: Runtime, view: View, action: Promote) -> None:
    """Both nodes may try at once (both hold the VIP, each reaches the other):
    the fence handler refuses a fence from a node with a larger name while
    this node promotes, and a fenced node never opens."""
    cfg, db = rt.cfg, rt.db
    semi = action.semi_sync
    peer_binlog = None
    if action.close_peer:
        answer = close_peer(rt.cfg, rt.peer_client, rt.admin_password, view.peer.paths,
                            rt.contact)
        rt.record(ev.PeerFenced(time.monotonic()))
        log.info("fenced %s (%s)", cfg.peer, answer.get("via", "by its agent"))
        if answer.get("db_up"):
            peer_binlog = str(answer.get("gtid_binlog_pos") or "")
        else:
            semi = False
    try:
        if action.claim is not None:
            # Only the leader key's holder may be writable: take it before opening.
            _keeper(rt).claim(view.db.epoch + 1, action.claim)
        state = take_over(db, cfg.node, peer_binlog, peer_alive=peer_binlog is not None)
        open_writes(rt, semi, view.now)
    except Exception as exc:
        if action.close_peer:
            # The peer is fenced and this node is not open: trying again at
            # once would fence it anew (standby.TAKEOVER_RETRY_S).
            rt.record(ev.PromotionFailed(time.monotonic(), str(exc)))
        raise
    # The old primary's word on completeness no longer means anything.
    rt.record(ev.Promoted())
    log.info("promoted: epoch %d, GTID %s, semi-sync %s", state.epoch, state.gtid_binlog_pos,
             "on" if semi else "off (committing alone)")


def evidence_age(view: View, now: float) -> float:
    """How old the view's oldest evidence is (pure): its own probes, or the
    peer's answer in it, which the poller's thread took earlier; on a
    machine that stood still, before the pause. Seen: a primary resumed
    after 8 s, its view fresh but its peer's answer from before the pause,
    reopened on "node2 replicates again" 0.05 s after its guard had closed
    it, and stayed writable beside node2 for 0.03 s."""
    since = min(view.now, view.peer.answered_at) if view.peer.paths else view.now
    return now - since


def open_writes(rt: Runtime, semi: bool, seen: float) -> None:
    """Open for writes unless fenced, or closed by the guard since the view
    (taken at seen, monotonic) this opening was decided on: the checks and
    read_only=OFF under the lock that a fence takes to record itself and the
    guard to record its self-fence, so a fence or self-fence that arrives
    while the semi-sync setting and the lease clears run (they may wait on a
    lock) is seen here, and one that arrives after finds read_only off and
    sets it on. Without the lock either could land between the check and the
    opening, and be undone by it."""
    rt.db.prepare_writes(semi)
    with rt.open_lock:
        if rt.fenced_by():
            raise Abort(f"fenced by {rt.fenced_by()} while opening: not opening")
        if rt.memory.writes_closed_at > seen:
            raise Abort("the lease guard closed writes since this was decided: not opening")
        rt.db.execute(OPEN_SQL)


def end_old_dump(rt: Runtime, path: str, old_address: str) -> None:
    """Over the path being taken, end the primary's dump thread to this
    node's address on the path being left. Left alone, a dump thread stuck
    writing to a dead link lingers until TCP gives up (MariaDB's own kill of
    a same-id "zombie" does not interrupt a blocked write) and the primary
    starts no new dump, so semi-sync commits wait: seen in the drills as
    ~7 s of no bookings after an interconnect cut. KILL CONNECTION shuts the
    socket at once. Best effort: on failure MariaDB's own way still works.
    Run in a thread of its own (its connection and statements are bounded),
    as the new CHANGE MASTER goes ahead: the new dump thread starts once the
    old one is gone, whichever lands first."""
    cfg = rt.cfg
    remote = Database(Endpoint(cfg.admin_user, rt.admin_password, cfg.peer_addresses[path],
                               cfg.db_port))
    try:
        ids = remote.dumps_to(old_address)
        remote.kill(ids)
        if ids:
            log.info("ended %s's dump thread to %s (the path left) over the %s network",
                     cfg.peer, old_address, path)
    except DBError as exc:
        log.warning("could not end %s's old dump thread over the %s network (%s)",
                    cfg.peer, path, str(exc)[:120])
    finally:
        remote.close()


def rebuild_from_peer(rt: Runtime, path: str) -> None:
    """The primary's backup replaces this node's data; the old data is kept aside."""
    cfg, db = rt.cfg, rt.db
    log.warning("rebuilding from %s: its backup replaces this node's data", cfg.peer)
    with rt.peer_client.backup(path) as stream:  # type: ignore[arg-type]
        position = rebuild.restore(stream, rt.datadir)
    db.wait_for("the database to start", lambda s: True, 60)
    db.execute("SET GLOBAL gtid_slave_pos = %s", (position,))
    db.follow(cfg.peer_addresses[path], cfg.db_port, cfg.replication_user,
              rt.replication_password, from_slave_pos=True, semi_sync=cfg.semi_sync)
    log.info("rebuilt from %s and replicating from GTID %s", cfg.peer, position)
