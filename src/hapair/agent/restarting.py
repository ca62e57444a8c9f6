"""A restart of the primary's agent in place (a new hapair, a changed setting
the agent reads): the VIP stays where it is and writes go on.

apply's roll asks for it (POST /restart-in-place) on the writable primary
whose standby answers, then restarts the unit. This agent first:
1. opens a window of WINDOW_S: its status says `back_within_s`, and the
   standby, once it has taken it (its own status says `peer_back`), does not
   take over before the window's end and the margin (agent/core/standby.py);
2. holds its lease and the write gate to the window's end (agent/guard.py):
   the database's own lease watch leaves it open that long, and no longer;
3. writes the window's end, in the kernel's uptime, to RESTART_WINDOW, where
   the stop hook leaves the database open (render/systemd.py) and
   keepalived's check passes without an agent (render/keepalived.py).
The next agent reads the window from that file, looks once before it
decides (its first health check, the peer's first answer), and ends the
window as soon as its lease is its own again. A window nobody ends runs out:
the lease watch closes the database, keepalived's check fails, and the
standby may take over after the margin, as for a dead agent.

A stop that was not asked for this way (`systemctl stop`, a crash, the
watchdog) closes the database as before."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from hapair.agent.core import command_rules as rules
from hapair.agent.core import events as ev
from hapair.agent.core import lease_rules
from hapair.agent.core.command_rules import Asked
from hapair.agent.node import observe
from hapair.agent.node.health import NOT_YET
from hapair.model.roles import Role
from hapair.paths import RESTART_WINDOW

if TYPE_CHECKING:
    import threading

    from hapair.agent.core.actions import Decision
    from hapair.agent.core.config import AgentConfig
    from hapair.agent.core.view import Memory, Peer, View
    from hapair.agent.node.db_lease import LeaseRow
    from hapair.agent.node.health import HealthChecker
    from hapair.agent.node.write_gate import GateRow

log = logging.getLogger("hapair.agent")


class Restartable(Protocol):
    """What a restart in place reads and touches of the agent."""

    cfg: AgentConfig
    @property
    def view(self) -> View | None: ...

    decision: Decision | None
    memory: Memory
    peer: Peer
    health: HealthChecker
    lease_row: LeaseRow
    gate_row: GateRow
    wake: threading.Event

    def record(self, event: ev.Event) -> None: ...


# How long the database may stay open without an agent: a stop, the stop
# hook, a new interpreter and its first look (2.2 s measured in the lab, a
# replica's restart). It bounds what a second fault costs meanwhile (the
# primary's machine dying during the restart): the standby takes over that
# much later.
WINDOW_S = 10.0
TAKE_WAIT_S = 3.0  # for the standby to take the window and the rows to hold it
FIRST_LOOK_S = 3.0  # the next agent's wait for its first health check and the peer's answer


def parse_window(text: str | None, uptime: float) -> float:
    """Seconds left of the window that RESTART_WINDOW holds ("UPTIME_END
    UNIX_END"), at `uptime`; 0 when there is none or it has ended (pure)."""
    try:
        end = float((text or "").split()[0])
    except (IndexError, ValueError):
        return 0.0
    return max(0.0, end - uptime)


def announce(agent: Restartable, asked: Asked, seconds: float = WINDOW_S
             ) -> tuple[int, dict[str, Any]]:
    """POST /restart-in-place: the window opened and taken, or why not (asked:
    the agent as the command judges it, agent/core/command_rules.py)."""
    why = rules.restart_in_place(asked)
    if why:
        return 409, {"error": why}
    began = time.monotonic()
    agent.record(ev.RestartWindow(began + seconds, announced=True))
    unix_end = time.time() + seconds
    agent.wake.set()

    def taken() -> str:
        """What is still missing ("" nothing)."""
        p = agent.peer
        if not (p.answered_at > began and p.status is not None and p.status.peer_back):
            return f"{agent.cfg.peer} has not taken the window"
        # (A lease that binds nothing, with fence devices say, leaves the
        # rows empty: the server is left alone, open, whatever the window.)
        if lease_rules.binds(agent.view, agent.memory, agent.cfg):
            for row in (agent.lease_row, agent.gate_row):
                if row.written is None or row.written < unix_end - 1.0:
                    return f"{row.WHAT} does not hold the window yet"
        return ""

    missing = taken()
    while missing and time.monotonic() - began < TAKE_WAIT_S:
        time.sleep(0.02)
        missing = taken()
    if missing:
        agent.record(ev.RestartWindow(0.0))
        return 409, {"error": f"no restart in place: {missing} within {TAKE_WAIT_S:.0f}s"}
    observe.write_if_changed(RESTART_WINDOW, f"{observe.uptime() + seconds:.3f} {unix_end:.3f}\n")
    log.info("restarting in place: back within %.0fs, the database open and the VIP here "
             "meanwhile (%s took the window in %.2fs)", seconds, agent.cfg.peer,
             time.monotonic() - began)
    return 200, {"back_within_s": seconds, "node": agent.cfg.node}


def inherit(agent: Restartable) -> None:
    """At start, before the first decision: the window a restart in place
    left, if any is still open; then a first look, bounded."""
    left = parse_window(observe.read_text(RESTART_WINDOW), observe.uptime())
    if left <= 0:
        observe.remove(RESTART_WINDOW)
        return
    began = time.monotonic()
    agent.record(ev.RestartWindow(began + left))
    log.info("restarted in place: the database stays open for %.1fs more while this agent "
             "looks", left)
    deadline = began + min(left, FIRST_LOOK_S)
    while time.monotonic() < deadline and (agent.health.latest()[0] == NOT_YET
                                           or not agent.peer.paths):
        time.sleep(0.02)


def settle(agent: Restartable, started: float) -> None:
    """After each cycle: the inherited window ends once this agent's lease is
    its own again (a poll answered since it started) or it is no longer the
    primary; an announced one (this agent is about to stop) is left alone
    until it has run out (the restart never came)."""
    m, d = agent.memory, agent.decision
    now = time.monotonic()
    if m.restart_announced and now >= m.restart_until:
        agent.record(ev.RestartWindow(0.0))  # never stopped: the window ran out
        log.warning("the window of a restart in place ran out without a restart")
    if not m.restart_until or m.restart_announced:
        return
    own = m.lease_renewed > started and d is not None and d.role is Role.PRIMARY
    if own or now >= m.restart_until or (d is not None and d.role is not Role.PRIMARY):
        agent.record(ev.RestartWindow(0.0))
        observe.remove(RESTART_WINDOW)
        log.info("restart in place done: %s (%.1fs of the window left)",
                 "the lease is this agent's own" if own else f"role {d.role if d else '?'}",
                 max(0.0, m.restart_until - now))
