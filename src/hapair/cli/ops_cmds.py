"""Operator commands: status, switchover, pause, resume, degrade. They ask
the agents; the agents act."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, JsonOpt, SpecArg, err, load_or_exit, out
from hapair.model.report import (
    COLUMNS,
    decisions,
    fence_lines,
    promotions,
    rows,
    self_fence_line,
    self_fences,
    summarize,
    witness_line,
)
from hapair.model.roles import Role
from hapair.ops.client import AgentError, Agents, enter_netns
from hapair.secrets import Secrets, SecretsError, load_api_token, load_ca_cert, load_secrets
from hapair.spec.models import ClusterSpec

if TYPE_CHECKING:
    from hapair.lab.plan import LabPlan

SecretsOpt = Annotated[Path | None, typer.Option(
    "--secrets", help="the secrets file (for the API token); a lab's own by default")]
YesOpt = Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")]


def register(app: typer.Typer) -> None:
    for fn in (status, switchover, pause, resume, degrade):
        app.command()(fn)


def connect(spec: Path, secrets: Path | None) -> Agents:
    """The agents of SPEC's cluster. For a lab that is up, from its control
    point. The secrets file gives the cluster CA (the agents' API is TLS) and
    the token (its read-only credential reads the status; changes need it)."""
    cluster, path = locate(spec, secrets)
    try:
        return Agents(cluster, load_api_token(path), load_ca_cert(path))
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def locate(spec: Path, secrets: Path | None) -> tuple[ClusterSpec, Path | None]:
    """SPEC's cluster and the secrets file to use; for a lab that is up, this
    process moves into its control point (the only place its addresses are
    reached from), and the lab's own secrets are the default."""
    cluster: ClusterSpec = load_or_exit(spec, False).spec
    plan = lab_up(cluster)
    if plan is not None:
        from hapair.lab.lifecycle import files_of
        enter_netns(plan.control.name)
        if secrets is None:
            secrets = files_of(plan).secrets
    return cluster, secrets


def lab_up(cluster: ClusterSpec) -> LabPlan | None:
    """The lab of this cluster if one is up here (root only), else None."""
    if os.geteuid() != 0:
        return None
    from hapair.lab.plan import LabPlanError, plan_lab
    try:
        plan = plan_lab(cluster)
    except LabPlanError:
        return None
    return plan if os.path.exists(f"/run/netns/{plan.control.name}") else None


def context(spec: Path, secrets: Path | None) -> tuple[ClusterSpec, Secrets]:
    """SPEC's cluster and every secret (see locate)."""
    cluster, path = locate(spec, secrets)
    try:
        return cluster, load_secrets(path)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def status(spec: SpecArg, secrets: SecretsOpt = None, as_json: JsonOpt = False) -> None:
    """Who holds the VIP, each node's role and replication, recent decisions, problems."""
    agents = connect(spec, secrets)
    statuses = agents.statuses()
    summary = summarize(statuses)
    if as_json:
        nodes = [s.doc.model_dump(mode="json") if s.doc else
                 {"node": s.node, "unreachable": s.unreachable} for s in statuses]
        out.print_json(data={"nodes": nodes, **asdict(summary)})
        raise typer.Exit(EXIT_FAILED if summary.problems else 0)
    docs = [s.doc for s in statuses if s.doc is not None]
    table = Table(title=f"cluster {agents.spec.name}: VIP {agents.spec.vip.address} on "
                  f"{', '.join(summary.vip_holders) or 'no node'}")
    for col in COLUMNS:
        table.add_column(col)
    for r in rows(statuses, summary):
        if r.unreachable:
            table.add_row(r.node, f"[red]no status: {escape(r.unreachable)}[/red]", *[""] * 7)
            continue
        cells = [escape(c) for c in r.cells()]
        style = "green" if r.role_ok else "red"
        cells[1] = f"[{style}]{cells[1]}[/{style}]"
        if not r.app_ok:
            cells[7] = f"[red]{cells[7]}[/red]"
        if not r.peer_via:
            cells[8] = "[red]none[/red]"
        table.add_row(*cells)
    out.print(table)
    peer_of = {n.name: agents.spec.peer(n).name for n in agents.spec.nodes}
    for line in fence_lines(docs, peer_of):
        out.print(f"[bold]fence[/bold] {escape(line)}")
    for d in docs:
        if d.witness:
            style = "bold" if d.witness_ok else "bold red"
            out.print(f"[{style}]witness[/{style}] {escape(witness_line(d))}")
    events = decisions(docs)
    if events:
        out.print("[bold]last decisions[/bold]")
        for at, node, e in events:
            stamp = datetime.fromtimestamp(at).strftime("%H:%M:%S")
            acts = f" -> {', '.join(e['actions'])}" if e["actions"] else ""
            out.print(f"  {stamp} {node}: {escape(e['reason'] + acts)}")
    for at, node, e in promotions(docs)[:3]:
        stamp = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
        out.print(f"[bold]promotion[/bold] {stamp} {node}, writes open {e['took_s']:.2f}s "
                  f"after it decided to: {escape(e['why'])}")
    for at, node, e in self_fences(docs)[:3]:
        stamp = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
        style = "bold red" if e["took_s"] > e["budget_s"] else "bold"
        out.print(f"[{style}]self-fence[/{style}] {stamp} {escape(self_fence_line(node, e))}")
    for p in summary.problems:
        out.print(f"[bold red]problem[/bold red] {p}")
    for h in summary.hints:
        out.print(f"[yellow]hint[/yellow] {h}")
    if summary.problems:
        raise typer.Exit(EXIT_FAILED)


def _ask(question: str, yes: bool) -> None:
    if not yes and not typer.confirm(question, default=False):
        err.print("nothing was done")
        raise typer.Exit(EXIT_FAILED)


def switchover(spec: SpecArg, to: Annotated[str | None, typer.Option(
        "--to", help="the node to promote (default: the one that is not the primary)")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="promote even if the node is not known to hold every confirmed "
            "transaction (may lose bookings)")] = False,
        secrets: SecretsOpt = None, yes: YesOpt = False) -> None:
    """Planned switchover: the target fences the primary, catches up, opens."""
    agents = connect(spec, secrets)
    names = [n.name for n in agents.spec.nodes]
    answers = agents.statuses()
    statuses = {s.node: s.doc for s in answers}
    if to is None and all(d is None for d in statuses.values()):
        said = "; ".join(f"{s.node}: {s.unreachable}" for s in answers)
        err.print(f"[red]error[/red] no agent answers ({said}): nothing was done")
        raise typer.Exit(EXIT_FAILED)
    if to is None:
        current = [n for n, d in statuses.items() if d is not None and d.writable]
        others = [n for n in names if n not in current]
        if len(others) != 1:
            err.print("[red]error[/red] cannot tell which node to promote: use --to NODE")
            raise typer.Exit(EXIT_BAD_INPUT)
        to = others[0]
    if to not in names:
        err.print(f"[red]error[/red] --to: no node {to!r} (nodes: {', '.join(names)})")
        raise typer.Exit(EXIT_BAD_INPUT)
    if force:
        _ask(f"Force {to} to become the primary even if it may lack confirmed transactions? "
             "Bookings it lacks would be lost.", yes)
    started = time.monotonic()
    try:
        answer = agents.post(agents.spec.node(to), "/switchover", {"force": force})
    except AgentError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"[green]{to} is the primary[/green] ({time.monotonic() - started:.2f}s): "
              f"{answer.get('reason', '')}")


def _on_every_node(spec: Path, secrets: Path | None, path: str, done_word: str) -> None:
    """Ask every node's agent the same thing; exit 1 unless all of them did it."""
    agents = connect(spec, secrets)
    done = []
    for node in agents.spec.nodes:
        try:
            agents.post(node, path)
            done.append(node.name)
        except AgentError as exc:
            err.print(f"[yellow]warning[/yellow] {exc}")
    out.print(f"{done_word} on {', '.join(done) or 'no node'}")
    if len(done) != len(agents.spec.nodes):
        raise typer.Exit(EXIT_FAILED)


def pause(spec: SpecArg, secrets: SecretsOpt = None) -> None:
    """Maintenance: no automatic failover until `hapair resume`."""
    _on_every_node(spec, secrets, "/pause", "paused")


def resume(spec: SpecArg, secrets: SecretsOpt = None) -> None:
    """Automatic failover again."""
    _on_every_node(spec, secrets, "/resume", "resumed")


def degrade(spec: SpecArg, secrets: SecretsOpt = None, yes: YesOpt = False) -> None:
    """Let a primary whose standby is lost commit alone, on purpose."""
    agents = connect(spec, secrets)
    paused = [s.node for s in agents.statuses()
              if s.doc is not None and s.doc.role is Role.PRIMARY_PAUSED]
    if not paused:
        err.print("[red]error[/red] no primary has its writes paused: nothing to degrade")
        raise typer.Exit(EXIT_FAILED)
    node = agents.spec.node(paused[0])
    peer = agents.spec.peer(node)
    _ask(f"{node.name} will commit without {peer.name}. Do this only if {peer.name} is really "
         f"down: if it is alive and cut off, it may promote itself and the two would diverge. "
         "Go on?", yes)
    try:
        agents.post(node, "/degrade", {"confirm": True})
    except AgentError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"[yellow]{node.name} commits alone[/yellow] until {peer.name} is back and "
              "has caught up")
