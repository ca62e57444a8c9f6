"""The primary's lease, kept by a thread of its own: even if the loop is
stuck in a slow action, a primary whose standby has not answered for longer
than the lease sets itself read-only."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from hapair.agent import observe
from hapair.agent.db import Database, DBError, Endpoint
from hapair.paths import APP_USER

if TYPE_CHECKING:
    from hapair.agent.loop import Agent

log = logging.getLogger("hapair.agent")
TICK_S = 0.05
# The loop and the guard may take this long over one round (a slow probe, a
# fence that stops the application first) before the pings of systemd's
# watchdog stop and systemd kills the agent. A frozen process stops them at once.
STALL_S = 10.0


def run(agent: Agent) -> None:
    last = time.monotonic()
    while True:
        try:
            time.sleep(TICK_S)
            now = time.monotonic()
            stalled, last = now - last, now
            agent.guard_tick = now
            once(agent, stalled)
        except Exception:  # noqa: BLE001 - the guard must outlive any error
            log.exception("lease guard")


def alive(agent: Agent, now: float) -> tuple[bool, str]:
    """The loop goes round and the guard keeps ticking: systemd's watchdog is
    pinged, and keepalived's backstop check (/alive) passes. Only liveness:
    whether this node may hold the VIP reaches keepalived at once through the
    tracked file. (When the check followed that verdict, a node that had been
    ineligible for a while waited out `rise` checks, two more seconds, before
    it could take the VIP.)"""
    for what, since in (("loop", agent.cycle_started), ("guard", agent.guard_tick)):
        if now - since >= STALL_S:
            return False, f"the agent's {what} has not turned for {now - since:.1f}s\n"
    return True, "alive\n"


def pinger(agent: Agent) -> None:
    """systemd's watchdog, pinged from a thread that never blocks, while the
    agent is alive."""
    while True:
        time.sleep(TICK_S)
        if alive(agent, time.monotonic())[0]:
            agent.watchdog.notify()


def once(agent: Agent, stalled: float = 0.0) -> None:
    """stalled: how long since this thread last went round. Longer than the
    lease (a machine paused whole, as a hypervisor does: every process of it,
    systemd's watchdog included), and the peer may have promoted meanwhile;
    what the peer said before, and what it answers first now, say nothing of
    that: read_only at once, the application's processes stopped first
    rather than waited for (the thawed server's commits wait for an
    acknowledgement that will not come). The loop reopens if the peer turns
    out to be still replicating."""
    v, m, cfg = agent.view, agent.memory, agent.cfg
    if cfg.fence is not None:
        return  # with fence devices the peer never promotes without powering us off first
    if v is None or v.db.read_only or not v.db.up or m.degraded or m.paused:
        return
    if not (v.db.semi_sync_master or m.peer_complete):
        return  # the peer may lack commits: it does not take over
    if stalled > cfg.lease_s:
        _fence(agent, f"the agent stood still for {stalled:.1f}s, longer than its lease",
               patience=0.0)
        return
    if agent.peer.paths:
        return
    lease_renewed, _ = agent.contact.read()
    if agent.keeper is not None:
        # The witness's majority renews the lease as well as the peer's answer.
        lease_renewed = max(lease_renewed, agent.keeper.state.renewed)
    silent = time.monotonic() - lease_renewed
    if silent <= cfg.lease_s:
        return
    _fence(agent, f"{cfg.peer} unanswered"
           f"{' and the leader key not renewed' if agent.keeper else ''} for {silent:.1f}s")


def _fence(agent: Agent, why: str, patience: float = 0.3) -> None:
    v = agent.view
    assert v is not None
    try:
        agent.guard_db.fence(agent.cfg.app_user, stop_clients=agent.stop_app, patience=patience)
        log.warning("lease ran out: %s, read_only=ON", why)
        agent.view = replace(v, db=replace(v.db, read_only=True))
    except DBError as exc:
        log.error("lease ran out (%s) but read_only=ON failed: %s", why, exc)


def fence_local(admin_password: str, admin_user: str, app_user: str) -> None:
    """What systemd runs when the agent stops: no writes without an agent.
    It runs after the quick `SET GLOBAL read_only` of the unit: a database
    still writable now is one whose commits are stuck (or a slow one), so the
    application is stopped at once rather than waited for."""
    db = Database(Endpoint(admin_user, admin_password))
    try:
        if int(db.one("SELECT @@GLOBAL.read_only AS ro").get("ro", 0)) == 1:
            db.kill(db.app_sessions(app_user))  # as fence does once read-only
            log.info("agent stopped: local database read_only=ON already")
            return
        db.fence(app_user, seconds=5, patience=0.0,
                 stop_clients=lambda: observe.kill_user_processes(APP_USER))
        log.info("agent stopped: local database set read_only=ON")
    except DBError as exc:
        log.warning("agent stopped; could not set read_only=ON: %s", exc)
