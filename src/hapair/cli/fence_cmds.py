"""`hapair fence`: power a node off through its fence device (asks first), or
check every device (`--check`, each device's status action). Run from the
operator's host, which needs Debian's fence-agents; for a lab, from its
control point."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, SpecArg, err, out
from hapair.cli.ops_cmds import SecretsOpt, YesOpt, _ask, context
from hapair.fence import agent as fa
from hapair.secrets import Secrets
from hapair.spec.models import ClusterSpec, Node


def register(app: typer.Typer) -> None:
    app.command("fence")(fence)


def _device(cluster: ClusterSpec, sec: Secrets, node: Node) -> tuple[str, dict[str, str], str]:
    if node.fence is None:
        err.print(f"[red]error[/red] {node.name} has no fence device (spec: nodes.fence)")
        raise typer.Exit(EXIT_BAD_INPUT)
    password = sec.fence_passwords.get(node.name)
    if password is None:
        err.print(f"[red]error[/red] the secrets file has no fence_passwords.{node.name}")
        raise typer.Exit(EXIT_BAD_INPUT)
    return node.fence.agent, dict(node.fence.options), password.get_secret_value()


def fence(spec: SpecArg,
          node: Annotated[str | None, typer.Argument(
              help="the node to power off", metavar="NODE")] = None,
          check: Annotated[bool, typer.Option(
              "--check", help="run every device's status action; change nothing")] = False,
          secrets: SecretsOpt = None, yes: YesOpt = False) -> None:
    """Power a node off through its fence device, or check every device."""
    cluster, sec = context(spec, secrets)
    if check == (node is not None):
        err.print("[red]error[/red] name a node to fence, or pass --check (not both)")
        raise typer.Exit(EXIT_BAD_INPUT)
    if check:
        _check(cluster, sec)
        return
    assert node is not None
    try:
        target = cluster.node(node)
    except KeyError:
        err.print(f"[red]error[/red] no node {node!r} (nodes: "
                  f"{', '.join(n.name for n in cluster.nodes)})")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    agent, options, password = _device(cluster, sec, target)
    _ask(f"Power {node} off now through {agent}? Whatever runs there stops at once.", yes)
    try:
        done = fa.run(agent, "off", options, password, cluster.fencing.timeout_s)
    except fa.FenceError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    if not done.ok:
        err.print(f"[red]error[/red] {agent} off failed (exit {done.code}): {done.said}")
        raise typer.Exit(EXIT_FAILED)
    out.print(f"[yellow]{node} powered off[/yellow] by {agent} ({done.seconds:.1f}s)")


def _check(cluster: ClusterSpec, sec: Secrets) -> None:
    table = Table(title=f"cluster {cluster.name}: fence devices")
    for col in ("node", "agent", "power", "seconds", "said"):
        table.add_column(col)
    failed = False
    nodes = [n for n in cluster.nodes if n.fence is not None]
    if not nodes:
        err.print("[red]error[/red] no node has a fence device (spec: nodes.fence)")
        raise typer.Exit(EXIT_FAILED)
    for n in nodes:
        agent, options, password = _device(cluster, sec, n)
        try:
            r = fa.run(agent, "status", options, password, cluster.fencing.timeout_s)
            power = fa.power_of("status", r.code)
            row = (power.value, f"{r.seconds:.1f}", r.said)
        except fa.FenceError as exc:
            power, row = fa.Power.UNKNOWN, ("unknown", "", str(exc))
        failed = failed or power is fa.Power.UNKNOWN
        style = "red" if power is fa.Power.UNKNOWN else "green"
        table.add_row(n.name, agent, f"[{style}]{row[0]}[/{style}]", row[1], row[2])
    out.print(table, width=out.width if out.is_terminal else 160)
    if failed:
        err.print("[red]error[/red] a fence device did not answer: acting alone is impossible "
                  "while it does not")
        raise typer.Exit(EXIT_FAILED)
