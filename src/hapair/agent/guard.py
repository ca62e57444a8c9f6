"""The primary's lease, kept by a thread of its own: even if the loop is
stuck in a slow action, a primary whose standby has not answered for longer
than the lease sets itself read-only."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Protocol

from hapair.agent.core import events as ev
from hapair.agent.core import lease_rules
from hapair.agent.node import observe
from hapair.agent.node.db import DBError
from hapair.paths import STOP_FENCE_TIMES
from hapair.spec.lease import DB_CLOSE_S, LEASE_WATCH_S, SAFETY_S, STOP_HOOK_S

if TYPE_CHECKING:
    import threading

    from systemd_watchdog.systemd_watchdog import WatchDog

    from hapair.agent.core.config import AgentConfig
    from hapair.agent.core.view import Memory, Peer, View
    from hapair.agent.node.db import Database
    from hapair.agent.node.db_lease import LeaseRow
    from hapair.agent.node.peer import Contact
    from hapair.agent.node.witness import Keeper
    from hapair.agent.node.write_gate import GateRow

log = logging.getLogger("hapair.agent")


class Turning(Protocol):
    """When the loop and the guard last went round (liveness)."""

    cycle_started: float
    guard_tick: float


class Guarded(Turning, Protocol):
    """What the guard reads and touches of the agent."""

    cfg: AgentConfig
    @property
    def view(self) -> View | None: ...

    memory: Memory
    contact: Contact
    peer: Peer
    keeper: Keeper | None
    lease_row: LeaseRow
    gate_row: GateRow
    guard_db: Database
    watchdog: WatchDog
    open_lock: threading.Lock  # act.open_writes: an opening's last check

    def stop_app(self) -> None: ...

    def record(self, event: ev.Event) -> None: ...

    def closed_itself(self, by: str, took_s: float, budget_s: float, what: str,
                      at: float | None = None) -> None: ...
TICK_S = 0.05
# The loop and the guard may take this long over one round (a slow probe, a
# fence that stops the application first) before the pings of systemd's
# watchdog stop and systemd kills the agent. A frozen process stops them at once.
STALL_S = 10.0


# A machine that resumes from a pause must be closed within this of resuming
# (nothing bounds the pause itself without a fence device).
RESUMED_S = 0.1


def run(agent: Guarded) -> None:
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


def watch_closed(agent: Guarded, at: float, late_s: float) -> None:
    """The database's lease watch closed it: reported as the guard's are."""
    agent.closed_itself("lease-watch", late_s, LEASE_WATCH_S + DB_CLOSE_S,
                        "after it could see the lease's end", at=at)


def alive(agent: Turning, now: float) -> tuple[bool, str]:
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


def pinger(agent: Guarded) -> None:
    """systemd's watchdog, pinged from a thread that never blocks, while the
    agent is alive."""
    while True:
        time.sleep(TICK_S)
        if alive(agent, time.monotonic())[0]:
            agent.watchdog.notify()


def lease_renewed(agent: Guarded) -> float:
    """The lease's start (monotonic): the send time of our last answered
    poll of the peer, or of the witness's last accepted renewal."""
    renewed, _ = agent.contact.read()
    if agent.keeper is not None:
        renewed = max(renewed, agent.keeper.state.renewed)
    return renewed


def once(agent: Guarded, stalled: float = 0.0) -> None:
    """stalled: how long since this thread last went round. Longer than the
    lease (a machine paused whole, as a hypervisor does: every process of it,
    systemd's watchdog included), and the peer may have promoted meanwhile;
    what the peer said before, and what it answers first now, say nothing of
    that: read_only at once, the application's processes stopped first
    rather than waited for (the thawed server's commits wait for an
    acknowledgement that will not come). The loop reopens if the peer turns
    out to be still replicating."""
    v, cfg = agent.view, agent.cfg
    bound = lease_rules.binds(v, agent.memory, cfg)
    renewed = lease_renewed(agent)
    # A restart of this agent in place (agent/restarting.py): the standby
    # took the window, and the lease lasts to its end whatever the polls say.
    window = agent.memory.restart_until - time.monotonic()
    if v is not None:
        # The same end, in the server's own clock, for its lease watch and
        # the application's write gate.
        end = time.time() - (time.monotonic() - renewed) + cfg.lease_s if bound else None
        if end is not None and window > 0:
            end = max(end, time.time() + window)
        agent.lease_row.keep(end)
        agent.gate_row.keep(end)
    if not bound:
        return
    if stalled > cfg.lease_s:
        _close(agent, f"the agent stood still for {stalled:.1f}s, longer than its lease",
               patience=0.0, since=time.monotonic(), budget=RESUMED_S, what="after resuming")
        return
    if agent.peer.paths:
        return
    now = time.monotonic()
    silent = now - renewed
    if not lease_rules.run_out(silent, cfg.lease_s, now, agent.memory.restart_until):
        return
    _close(agent, f"{cfg.peer} unanswered"
           f"{' and the leader key not renewed' if agent.keeper else ''} for {silent:.1f}s",
           since=renewed + cfg.lease_s, budget=cfg.margin_s - SAFETY_S,
           what="after the lease's end")


def _close(agent: Guarded, why: str, since: float, budget: float, what: str,
           patience: float = 0.3) -> None:
    """since (monotonic): from when the closing is timed; budget: what the
    timing inequality allows it. Recorded first, under the lock an opening
    takes for its last check (act.open_writes): an opening decided before
    this is either done already (and closed here) or refused."""
    with agent.open_lock:
        agent.record(ev.WritesClosed(time.monotonic()))
    try:
        agent.guard_db.close_writes(agent.cfg.app_user, stop_clients=agent.stop_app,
                                    patience=patience)
        log.warning("lease ran out: %s, read_only=ON", why)
        agent.record(ev.WritesClosed(time.monotonic()))  # the loop's view is older
        agent.closed_itself("guard", time.monotonic() - since, budget, what)
    except DBError as exc:
        log.error("lease ran out (%s) but read_only=ON failed: %s", why, exc)


def parse_stop_hook(text: str) -> tuple[float, float, str] | None:
    """The stop hook's record, "START END HOW" (render/systemd.py, times in
    the kernel's uptime): (when it ended, how long it took, how). None if it
    is not one (pure)."""
    parts = text.split(maxsplit=2)
    try:
        start, end = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return None
    return end, end - start, parts[2].strip() if len(parts) > 2 else ""


def report_stop_hook(agent: Guarded, path: str = STOP_FENCE_TIMES) -> None:
    """At start: how long the last stop hook took to close the database;
    read once (the next start must not report it again)."""
    try:
        with open(path) as f:
            record = parse_stop_hook(f.read())
        os.remove(path)
    except OSError:
        return
    if record is not None:
        ended, took, how = record
        at = time.time() - (observe.uptime() - ended)
        agent.closed_itself("stop-hook", took, STOP_HOOK_S, f"({how})", at=at)
