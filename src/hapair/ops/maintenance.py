"""Work on a node without downtime, through the agents (the CLI's and the
drills'): maintenance (out of failover; a primary is switched away first), a
reboot that waits until the node is a complete replica again, and a rolling
reboot, the standby first. How a node is rebooted is the caller's: the
agent's own `systemctl reboot` on servers, the lab's machine on a lab."""

from __future__ import annotations

import time
from collections.abc import Callable

from hapair.ops.client import AgentError, Agents
from hapair.ops.settled import APPLY_BACKLOG, Layout, settled

Say = Callable[[str], None]
Reboot = Callable[[str], None]  # reboots the named node; returns once it is asked
BACK_S = 600.0  # a rebooted node back as a complete replica (a rebuild may follow)
# Its application answers once one worker has started; the others a moment
# later (the roll waits as long: deploy/rolling.MOVE_S). A switchover onto it
# sooner (the next node's reboot) met requests that timed out (1.9 s seen).
WORKERS_S = 3.0


class MaintenanceError(RuntimeError):
    pass


def layout(agents: Agents, maintenance: bool = False) -> Layout:
    docs = {s.node: s.doc for s in agents.statuses()}
    return settled(agents.spec, docs, services=True, applied=False, maintenance=maintenance,
                   backlog=APPLY_BACKLOG)


def wait_settled(agents: Agents, say: Say, what: str, timeout: float,
                 maintenance: bool = False, since: float = 0.0, node: str = "") -> float:
    """Until the cluster is settled (maintenance: a replica in maintenance
    counts; since, node: and node's agent started after since, wall clock);
    seconds taken. MaintenanceError after timeout, with the reason."""
    began, last = time.monotonic(), ""
    while True:
        now = layout(agents, maintenance)
        why = now.why
        if not why and since:
            doc = {s.node: s.doc for s in agents.statuses()}.get(node)
            why = "" if doc is not None and doc.started_at > since else \
                f"{node} has not come back yet"
        if now.ok and not why:
            return time.monotonic() - began
        if why and why != last:
            say(f"waiting for {what}: {why}")
            last = why
        if time.monotonic() - began > timeout:
            raise MaintenanceError(f"{what} did not happen within {timeout:.0f}s ({why})")
        time.sleep(0.5)


def maintenance(agents: Agents, node: str, on: bool, say: Say) -> None:
    """Out of failover (on; a writable primary is switched away from first,
    which needs its standby complete: the agent refuses otherwise), or back
    in (off)."""
    spec = agents.spec
    me = spec.node(node)
    doc = next((s.doc for s in agents.statuses() if s.node == node), None)
    if doc is None:
        raise MaintenanceError(f"{node}'s agent does not answer: nothing was done")
    if on and doc.writable:
        peer = spec.peer(me).name
        say(f"{node} is the primary: switching over to {peer} first")
        try:
            answer = agents.post(spec.node(peer), "/switchover", {"force": False}, timeout=60.0)
        except AgentError as exc:
            raise MaintenanceError(f"the switchover to {peer} failed ({exc}): {node} stays the "
                                   "primary, not in maintenance") from None
        say(f"{peer} is the primary: {answer.get('reason', '')}")
    try:
        agents.post(me, "/maintenance", {"on": on})
    except AgentError as exc:
        raise MaintenanceError(str(exc)) from None
    say(f"{node}: maintenance {'on: out of failover' if on else 'off: in failover again'}")


def reboot(agents: Agents, node: str, do_reboot: Reboot, say: Say,
           timeout: float = BACK_S) -> float:
    """Maintenance on (switched away if primary), the reboot, the wait until
    the node is a complete replica with its services answering, maintenance
    off; seconds the node was away (from the reboot until it was back)."""
    wait_settled(agents, say, "a settled cluster before the reboot", 60.0)
    maintenance(agents, node, True, say)
    asked, began = time.time(), time.monotonic()
    say(f"{node}: rebooting")
    do_reboot(node)
    wait_settled(agents, say, f"{node} back as a complete replica", timeout,
                 maintenance=True, since=asked, node=node)
    took = time.monotonic() - began
    time.sleep(WORKERS_S)
    maintenance(agents, node, False, say)
    say(f"{node}: back in {took:.1f}s")
    return took


def order(agents: Agents) -> list[str]:
    """A rolling reboot's order: the standby first, the primary last (it is
    switched away from when its turn comes)."""
    now = layout(agents)
    if not now.ok or now.primary is None or now.standby is None:
        raise MaintenanceError(f"the cluster is not settled ({now.why}): no reboot started")
    return [now.standby, now.primary]
