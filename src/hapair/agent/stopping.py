"""A planned stop (systemd's SIGTERM: a restart, a new hapair, a reboot).

A primary's agent stops at once: its stop hook closes the database, and a
rolling apply switches over first. A replica's agent first tells its peer:
its status says `stopping` (not complete, not eligible) until the peer's
agent has taken it, for at most STOP_WAIT_S. From then on it decides
nothing: it never promotes again, and the next agent here starts
incomplete. A primary that took that does not count the silence that
follows as a lost standby (which would stop its writes, or with a witness
wait out the lease before committing alone: it may be a complete standby
cut off and about to promote): it goes on, acknowledged by the replica's
database while that answers, alone otherwise (agent/core/learn.py
`peer_stopped`). With a witness it first records in the sync record that
the replica is no longer complete (witness_rules.primary_upkeep), so that
the replica could not promote with the witness's word either.

The replica waits for the primary's own status to say `peer_stopped` (its
learn took the stop), not just for its answer to be sent: an answer sent
is not an answer the primary acted on (the pair's reboots, 2 of 4 runs:
the replica exited on the send, the primary took the silence that followed
for a lost standby and paused writes, 3.3 s in a reboot of the standby,
43 s in a rolling reboot; with a witness, the primary waited for the
stopped replica's acknowledgements until it counted it lost, 1-2 s)."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TYPE_CHECKING, NoReturn, Protocol

from hapair.agent.core import events as ev

if TYPE_CHECKING:
    from hapair.agent.core.config import AgentConfig
    from hapair.agent.core.view import Memory, Peer, View

log = logging.getLogger("hapair.agent")


class Stoppable(Protocol):
    """What a planned stop reads and touches of the agent."""

    cfg: AgentConfig
    @property
    def view(self) -> View | None: ...

    memory: Memory
    peer: Peer
    stop_read: bool

    def record(self, event: ev.Event) -> None: ...
# For the peer to take it: its poll, its next cycle, our poll of its status
# (each every agent_interval_s, 0.2 s by default).
STOP_WAIT_S = 3.0


def may_announce(agent: Stoppable) -> bool:
    """A read-only replica with nothing under way: its stop can be announced."""
    v = agent.view
    return (v is not None and v.db.up and v.db.read_only and agent.memory.task is None
            and not agent.memory.stopping)


def taken(read: bool, peer: Peer, since: float) -> bool:
    """Whether the peer has taken this node's planned stop (pure): its agent
    read it, and its own status, answered after the stop was announced
    (`since`), says so."""
    return (read and peer.status is not None and peer.status.peer_stopped
            and peer.answered_at > since)


def stop(agent: Stoppable) -> None:
    """Called on the loop's thread once systemd asked the agent to stop."""
    m = agent.memory
    if m.restart_announced and m.restart_until > time.monotonic():
        log.info("stopping for a restart in place: the database stays open and the VIP here "
                 "for %.1fs at most (agent/restarting.py)", m.restart_until - time.monotonic())
        return
    if not may_announce(agent):
        log.info("stopping (the database stays as the stop hook leaves it)")
        return
    agent.record(ev.Stopping())
    began = time.monotonic()

    def done() -> bool:
        return taken(agent.stop_read, agent.peer, began)

    while not done() and time.monotonic() - began < STOP_WAIT_S:
        time.sleep(0.02)
    if done():
        log.info("stopping on purpose: %s took it in %.2fs (the next agent here starts "
                 "incomplete)", agent.cfg.peer, time.monotonic() - began)
    else:
        log.warning("stopping on purpose: %s did not take it within %.1fs (read: %s)",
                    agent.cfg.peer, STOP_WAIT_S, agent.stop_read)


def exit_now() -> NoReturn:
    """The process ends as soon as the stop is settled. The interpreter's own
    teardown joins every worker thread of the pools (a peer poll, an etcd
    call in flight) while nothing turns the loop; a teardown that outlasts the
    guard's stall limit ends in the watchdog's SIGKILL and a journal that
    says the agent was killed, not that it stopped."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
