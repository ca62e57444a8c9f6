"""Carrying out decisions: the thin layer between decide() and the world."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from hapair.agent import gtid, observe, rebuild
from hapair.agent.db import Database, DBError, Endpoint
from hapair.agent.decide import (
    Action,
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
)
from hapair.agent.peer import PeerError
from hapair.agent.view import View

if TYPE_CHECKING:
    from hapair.agent.loop import Agent

log = logging.getLogger("hapair.agent")


class Abort(Exception):
    """An action could not be carried out safely; the next cycle decides again."""


OPENING = (Promote, Reopen)


def carry_out(agent: Agent, view: View, action: Action) -> None:
    cfg, db = agent.cfg, agent.db
    if isinstance(action, OPENING) and agent.memory.fenced_by:
        raise Abort(f"fenced by {agent.memory.fenced_by} since this cycle began: not opening")
    match action:
        case Demote():
            db.fence(cfg.app_user, stop_clients=agent.stop_app)
            log.info("read_only=ON: writes stopped")
        case DropVip():
            observe.drop_address(cfg.vip_device, cfg.vip, cfg.vip_prefix)
            log.info("dropped the VIP %s from %s", cfg.vip, cfg.vip_device)
        case SetSemiSync(on=on):
            db.set_semi_sync(on)
            log.info("semi-sync on the primary %s", "on" if on else "off")
        case Reopen(semi_sync=semi):
            db.open_for_writes(semi)
            log.info("read_only=OFF: open for writes (semi-sync %s)", "on" if semi else "off")
        case Promote():
            promote(agent, view, action)
        case Follow(path=path):
            follow(agent, view, path)
        case StartReplication():
            db.start_replication()
        case Reconnect():
            db.execute("STOP SLAVE IO_THREAD", timeout=10)
            db.execute("SET GLOBAL rpl_semi_sync_slave_enabled = ON")
            db.execute("START SLAVE IO_THREAD")
            log.info("replication reconnected to %s (semi-sync client again)", cfg.peer)
        case Rebuild():
            rebuild_from_peer(agent, view)
        case RestartService(unit=unit):
            agent.edit(last_heal=time.monotonic())
            subprocess.run(["systemctl", "restart", unit], capture_output=True, timeout=30)
            log.warning("restarted %s: its check kept failing and systemd had not", unit)
        case LeaveReplication():
            db.leave_replication_later()


def fence_peer(agent: Agent, view: View) -> dict[str, object]:
    """Fence the peer by its agent, or by its database if only that answers.
    Quick to give up (a dead peer must not hold a failover up): the next
    cycle decides again, on the lease if the peer is gone."""
    cfg = agent.cfg
    try:
        return agent.peer_client.post(view.peer.paths, "/fence", {"by": cfg.node}, timeout=1.0)
    except PeerError as agent_error:
        if "refused" not in str(agent_error).lower():
            # Silence on every path: the host is gone, not just its agent.
            raise Abort(f"could not fence {cfg.peer} ({agent_error}): not promoting") from None
        answers: list[dict[str, object]] = []

        def by_database(host: str) -> None:
            remote = Database(Endpoint(cfg.admin_user, agent.admin_password, host, cfg.db_port))
            try:
                remote.fence(cfg.app_user, seconds=2)
                answers.append({"db_up": True, "gtid_binlog_pos": remote.probe().gtid_binlog_pos,
                                "via": f"its database at {host}"})
            except DBError:
                pass
            finally:
                remote.close()

        threads = [threading.Thread(target=by_database, args=(h,), daemon=True)
                   for h in cfg.peer_addresses.values()]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 3.0
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if answers:
            return answers[0]
        raise Abort(f"could not fence {cfg.peer} ({agent_error}): not promoting") from None


def promote(agent: Agent, view: View, action: Promote) -> None:
    """Both nodes may try at once (both hold the VIP, each reaches the other):
    the fence handler refuses a fence from a node with a larger name while
    this node promotes, and a fenced node never opens."""
    agent.promoting = True
    try:
        _promote(agent, view, action)
    finally:
        agent.promoting = False


def _promote(agent: Agent, view: View, action: Promote) -> None:
    cfg, db = agent.cfg, agent.db
    semi = action.semi_sync
    peer_binlog = None
    if action.fence_peer:
        answer = fence_peer(agent, view)
        log.info("fenced %s (%s)", cfg.peer, answer.get("via", "by its agent"))
        if answer.get("db_up"):
            peer_binlog = str(answer.get("gtid_binlog_pos") or "")
        else:
            semi = False
    state = db.take_over(cfg.node, peer_binlog, peer_alive=peer_binlog is not None)
    if agent.memory.fenced_by:
        raise Abort(f"fenced by {agent.memory.fenced_by} while promoting: not opening")
    db.open_for_writes(semi)
    agent.promoted()
    log.info("promoted: epoch %d, GTID %s, semi-sync %s", state.epoch, state.gtid_binlog_pos,
             "on" if semi else "off (committing alone)")


def follow(agent: Agent, view: View, path: str) -> None:
    cfg, db, p = agent.cfg, agent.db, view.peer.status
    if p is not None:
        # The primary's current position: after a rebuild its own binlog starts
        # empty, and what it holds is in its applied (slave) position.
        wrong = gtid.errant(view.db.gtid_current_pos, p.gtid_current_pos or p.gtid_binlog_pos)
        if wrong:
            log.warning("this node holds transactions %s that the primary %s lacks: rebuilding "
                        "it from the primary, not patching", ",".join(wrong), cfg.peer)
            rebuild_from_peer(agent, view)
            return
    host = cfg.peer_addresses[path]
    db.follow(host, cfg.db_port, cfg.replication_user, agent.replication_password,
              semi_sync=cfg.semi_sync)
    log.info("replicating from %s at %s (%s network)", cfg.peer, host, path)


REBUILD_RETRY_S = 20.0


def rebuild_from_peer(agent: Agent, view: View) -> None:
    cfg, db = agent.cfg, agent.db
    now = time.monotonic()
    if now < agent.next_rebuild_at:
        raise Abort(f"the last rebuild failed; next attempt in {agent.next_rebuild_at - now:.0f}s")
    agent.next_rebuild_at = now + REBUILD_RETRY_S
    path = view.peer.paths[0] if view.peer.paths else "interconnect"
    log.warning("rebuilding from %s: its backup replaces this node's data", cfg.peer)
    agent.rebuilding = True  # published: the primary must not wait for us meanwhile
    try:
        with agent.peer_client.backup(path) as stream:
            position = rebuild.restore(stream, agent.datadir)
    finally:
        agent.rebuilding = False
    db.wait_for("the database to start", lambda s: True, 60)
    db.execute("SET GLOBAL gtid_slave_pos = %s", (position,))
    db.follow(cfg.peer_addresses[path], cfg.db_port, cfg.replication_user,
              agent.replication_password, from_slave_pos=True, semi_sync=cfg.semi_sync)
    agent.next_rebuild_at = 0.0
    log.info("rebuilt from %s and replicating from GTID %s", cfg.peer, position)
