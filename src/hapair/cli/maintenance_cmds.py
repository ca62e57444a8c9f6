"""Work on a node without downtime: `maintenance NODE on|off` and `reboot`
(one node, or every node in turn). They ask the agents (ops/maintenance.py);
on a lab that is up, the lab reboots its machine."""

from __future__ import annotations

from typing import Annotated

import typer

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, SpecArg, err, out
from hapair.cli.ops_cmds import SecretsOpt, connect, lab_up
from hapair.ops import maintenance as mt
from hapair.ops.client import AgentError, Agents

NodeArg = Annotated[str, typer.Argument(help="the node's name")]


def register(app: typer.Typer) -> None:
    app.command()(maintenance)
    app.command()(reboot)


def _node(agents: Agents, node: str) -> str:
    names = [n.name for n in agents.spec.nodes]
    if node not in names:
        err.print(f"[red]error[/red] NODE: no node {node!r} (nodes: {', '.join(names)})")
        raise typer.Exit(EXIT_BAD_INPUT)
    return node


def maintenance(spec: SpecArg, node: NodeArg,
                state: Annotated[str, typer.Argument(help="on or off", metavar="on|off")],
                secrets: SecretsOpt = None) -> None:
    """Take a node out of failover (on: a primary is switched away from
    first; it replicates, never takes the VIP, never promotes), or put it
    back (off)."""
    if state not in ("on", "off"):
        err.print(f"[red]error[/red] STATE: on or off, not {state!r}")
        raise typer.Exit(EXIT_BAD_INPUT)
    agents = connect(spec, secrets)
    try:
        mt.maintenance(agents, _node(agents, node), state == "on", _say)
    except mt.MaintenanceError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None


def reboot(spec: SpecArg, node: Annotated[str | None, typer.Argument(
        help="the node to reboot (default: with --all, every node)")] = None,
        every: Annotated[bool, typer.Option(
            "--all", help="a rolling reboot: the standby, then the primary (switched away "
            "from first), each back as a complete replica before the next")] = False,
        secrets: SecretsOpt = None) -> None:
    """Reboot a node without stopping the bookings: maintenance on (a
    primary is switched away from first), the reboot, a wait until it is a
    complete replica again, maintenance off."""
    if (node is None) == (not every):
        err.print("[red]error[/red] name a NODE, or --all for every node in turn")
        raise typer.Exit(EXIT_BAD_INPUT)
    agents = connect(spec, secrets)
    how = _rebooter(agents)
    try:
        nodes = mt.order(agents) if every else [_node(agents, node or "")]
        for name in nodes:
            mt.reboot(agents, name, how, _say)
    except (mt.MaintenanceError, AgentError) as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"[green]rebooted[/green] {', '.join(nodes)}, each back as a complete replica")


def _rebooter(agents: Agents) -> mt.Reboot:
    """A lab's machine rebooted by the lab; a server by its agent."""
    plan = lab_up(agents.spec)
    if plan is not None:
        from hapair.lab import faults
        return faults.rebooter(plan)

    def by_its_agent(name: str) -> None:
        agents.post(agents.spec.node(name), "/reboot")
    return by_its_agent


def _say(line: str) -> None:
    out.print(f"  {line}")
