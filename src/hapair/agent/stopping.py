"""A planned stop (systemd's SIGTERM: a restart, a new hapair, a reboot).

A primary's agent stops at once: its stop hook closes the database, and a
rolling apply switches over first. A replica's agent first tells its peer:
its status says `stopping` (not complete, not eligible) until the peer's
agent has read it, for at most STOP_WAIT_S. From then on it decides
nothing: it never promotes again, and the next agent here starts
incomplete. Without a witness, a primary that read that does not count the
silence that follows as a lost standby (which would stop its writes: it
may be a complete standby cut off and about to promote): it goes on,
acknowledged by the replica's database while that answers, alone
otherwise (agent/learn.py `peer_stopped`). With a witness its sync record
already says who may promote."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hapair.agent.loop import Agent

log = logging.getLogger("hapair.agent")
STOP_WAIT_S = 1.5  # for the peer to read it (it polls every agent_interval_s)


def may_announce(agent: Agent) -> bool:
    """A read-only replica with nothing under way: its stop can be announced."""
    v = agent.view
    return (v is not None and v.db.up and v.db.read_only and agent.memory.task is None
            and not agent.memory.stopping)


def stop(agent: Agent) -> None:
    """Called on the loop's thread once systemd asked the agent to stop."""
    if not may_announce(agent):
        log.info("stopping (the database stays as the stop hook leaves it)")
        return
    agent.edit(stopping=True)
    began = time.monotonic()
    while not agent.stop_read and time.monotonic() - began < STOP_WAIT_S:
        time.sleep(0.02)
    if agent.stop_read:
        log.info("stopping on purpose: %s read it in %.2fs (the next agent here starts "
                 "incomplete)", agent.cfg.peer, time.monotonic() - began)
    else:
        log.warning("stopping on purpose: %s did not read it within %.1fs", agent.cfg.peer,
                    STOP_WAIT_S)
