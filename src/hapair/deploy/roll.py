"""Carrying out a roll (`rolling.plan`) on a live cluster: each restart over
pyinfra's open SSH connection to its node, the switchover and every wait
through the agents' API (the CLI records intent, the agents act)."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from pyinfra.api.command import StringCommand
from pyinfra.api.host import Host

from hapair.deploy.ops import owed_done
from hapair.deploy.rolling import MOVE_S, Roll, Step
from hapair.model.status import NodeStatus
from hapair.ops.client import AgentError, Agents
from hapair.ops.settled import APPLY_BACKLOG, Layout, settled
from hapair.paths import PENDING_DIR

Say = Callable[[str], None]
WAIT_S = 300.0  # a restarted node back as a complete replica (a rebuild may follow a restart)


class RollError(RuntimeError):
    pass


def pending(host: Host) -> frozenset[str]:
    """The restarts and reloads noted on a node and not yet done."""
    ok, got = host.run_shell_command(StringCommand(f"ls {PENDING_DIR} 2>/dev/null || true"))
    if not ok:
        raise RollError(f"{host.data.get('node')}: cannot read {PENDING_DIR}")
    return frozenset(line.strip() for line in got.stdout_lines if line.strip())


def layout(agents: Agents, statuses: list[NodeStatus] | None = None,
           backlog: int | None = None) -> Layout:
    """The roll's judgement of the cluster, from statuses read now unless given
    (backlog: at most this many transactions left to apply on the standby)."""
    read = agents.statuses() if statuses is None else statuses
    return settled(agents.spec, {s.node: s.doc for s in read}, services=True, applied=False,
                   backlog=backlog)


def wait_settled(agents: Agents, primary: str, say: Say, what: str,
                 timeout: float = WAIT_S, any_primary: bool = False) -> float:
    """Until the cluster is settled with `primary` (any_primary: either node)
    as its primary; seconds taken."""
    began, last = time.monotonic(), ""
    while True:
        # A wait precedes a switchover or the next node's restart: the
        # standby near enough to applied that a promotion opens at once.
        now = layout(agents, backlog=APPLY_BACKLOG)
        if now.ok and (any_primary or now.primary == primary):
            return time.monotonic() - began
        why = now.why or f"{now.primary} is the primary, not {primary}"
        if why != last:
            say(f"roll: waiting for {what}: {why}")
            last = why
        if time.monotonic() - began > timeout:
            raise RollError(f"{what} did not happen within {timeout:.0f}s ({why}); the "
                            "restarts not done yet stay noted: run apply again to finish")
        time.sleep(0.5)


def _restart(host: Host, step: Step) -> None:
    ok, got = host.run_shell_command(StringCommand(
        owed_done(f"systemctl restart {shlex.quote(step.unit)}", step.key)))
    if not ok:
        raise RollError(f"{step.node}: restart of {step.unit} failed: "
                        f"{' '.join(got.stderr_lines)[-300:]}")


def _in_place(agents: Agents, step: Step, say: Say) -> bool:
    """The primary's agent opens its window (agent/restarting.py) before its
    restart; whether it did."""
    try:
        agents.post(agents.spec.node(step.node), "/restart-in-place", {}, timeout=10.0)
        return True
    except AgentError as exc:
        say(f"roll: {step.node} cannot restart its agent in place ({exc}): switching over "
            "first")
        return False


def _switchover(agents: Agents, to: str, why: str, say: Say) -> str:
    """A planned switchover to `to`; the new primary."""
    try:
        answer = agents.post(agents.spec.node(to), "/switchover", {"force": False},
                             timeout=60.0)
    except AgentError as exc:
        raise RollError(f"the switchover to {to} failed ({exc}); {why}") from None
    say(f"roll: {to} is the primary: {answer.get('reason', '')}")
    return to


def carry_out(roll: Roll, hosts: dict[str, Host], agents: Agents, primary: str,
              say: Say) -> tuple[float, bool]:
    """Each step in order; the seconds the whole roll took, and whether the
    VIP moved (as planned, or because a restart in place was refused)."""
    began, first = time.monotonic(), primary
    for step in roll.steps:
        say(f"roll: {step.line()}")
        if step.kind == "restart":
            if step.in_place and not _in_place(agents, step, say):
                peer = agents.spec.peer(agents.spec.node(step.node)).name
                primary = _switchover(agents, peer, f"{step.node}'s restarts stay noted", say)
                wait_settled(agents, primary, say, f"{primary}: it serves the bookings")
                time.sleep(MOVE_S)
            _restart(hosts[step.node], step)
        elif step.kind == "switchover":
            primary = _switchover(agents, step.unit, f"{step.node}'s restarts stay noted", say)
        else:
            took = wait_settled(agents, primary, say, f"{step.node}: {step.why}")
            time.sleep(step.pause_s)
            say(f"roll: {step.node} settled ({took:.1f}s)")
    return time.monotonic() - began, primary != first
