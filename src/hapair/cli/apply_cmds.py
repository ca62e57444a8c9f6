"""apply (converge servers over SSH) and agent (runs on each node)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hapair.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    BuildOnNode,
    SpecArg,
    err,
    load_or_exit,
    out,
)
from hapair.deploy import wheels
from hapair.probes.python import Target
from hapair.secrets import SecretsError, load_secrets
from hapair.spec.models import ClusterSpec

if TYPE_CHECKING:
    from hapair.deploy.runner import ApplyReport


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_cmd)
    app.command()(agent)


SecretsOpt = Annotated[Path | None, typer.Option(
    "--secrets", help="the secrets file (mode 0600); HAPAIR_* variables override it")]


def wheel_source(spec: ClusterSpec, spec_path: Path, given: Path | None,
                 on_node: tuple[str, ...] = ()
                 ) -> Callable[[Target], tuple[wheels.Wheelhouse | None, wheels.Wheelhouse]]:
    """(app, hapair) wheels for a node's Python: prebuilt under --wheelhouse
    (a folder per kind of Python), used as they are; else built here (kept in
    ~/.cache/hapair/wheels, made again only when their sources change)."""
    if given is not None:
        return lambda target: wheels.prebuilt(given, target, app=bool(spec.web.source))
    where = Path.home() / ".cache/hapair/wheels"
    return lambda target: wheels.build_for(spec, spec_path, where, target, on_node)



def apply_cmd(
    spec: SpecArg,
    secrets: SecretsOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan, change nothing")
    ] = False,
    ssh_key: Annotated[Path | None, typer.Option(help="SSH private key")] = None,
    known_hosts: Annotated[Path | None, typer.Option(help="SSH known_hosts file")] = None,
    accept_new_host_keys: Annotated[bool, typer.Option(
        help="trust a node's host key the first time it is seen")] = False,
    wheelhouse: Annotated[Path | None, typer.Option(
        help="prebuilt wheels, a folder per kind of Python (cp311-x86_64-glibc2.36/app "
        "and .../hapair), instead of building them")] = None,
    packages: Annotated[bool, typer.Option(help="install the apt packages")] = True,
    only: Annotated[str | None, typer.Option(
        "--only", help="host: only the machines themselves (packages, files, bonds, RAID), "
        "no service started or changed")] = None,
    build_on_node: BuildOnNode = None,
    force: Annotated[bool, typer.Option(
        "--force", help="apply to a live cluster that is not settled, restarting what the "
        "change needs on every node at once (writes may stop meanwhile)")] = False,
) -> None:
    """Converge the nodes to the rendered state over SSH (pyinfra).

    On a live cluster the restarts a change calls for are rolled: the
    standby first, then, if the primary needs one, a switchover and the old
    primary. Reloads (Apache, keepalived, the firewall) run everywhere at once."""
    # pyinfra is the control side's: the nodes run hapair without it.
    from hapair.deploy.roles import RoleError
    from hapair.deploy.runner import ApplyError, HostKeyRefused, SshOptions, apply

    if only not in (None, "host"):
        err.print(f"[red]error[/red] --only: {only!r} is not a layer (the one there is: host)")
        raise typer.Exit(EXIT_BAD_INPUT)
    loaded = load_or_exit(spec, False)
    try:
        sec = load_secrets(secrets)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if sec.pki is None:
        err.print(f"[red]error[/red] {secrets or 'the secrets'} has no [pki] table (the cluster "
                  f"CA: the agents' API is TLS): run `hapair secrets ca {secrets or 'FILE'} "
                  f"{spec}` (nothing was changed)", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        report = apply(
            loaded.spec, sec,
            ssh=SshOptions(ssh_key, known_hosts, accept_new_host_keys),
            wheels=wheel_source(loaded.spec, spec, wheelhouse, tuple(build_on_node or ())),
            dry_run=dry_run,
            progress=lambda msg: out.print(f"  {msg}"), install_packages=packages,
            host_only=only == "host", force=force,
        )
    except (ApplyError, RoleError, wheels.WheelError) as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        # a refused host key is the operator's input to fix, as a bad spec is
        raise typer.Exit(EXIT_BAD_INPUT if isinstance(exc, HostKeyRefused)
                         else EXIT_FAILED) from None
    show(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def show(report: ApplyReport) -> None:
    table = Table(title="plan (nothing changed)" if report.dry_run else "apply")
    table.add_column("node")
    table.add_column("result")
    table.add_column("what")
    for node, r in report.nodes.items():
        if r.failed:
            result, what = "[red]FAILED[/red]", (
                f"at: {r.failed}; {r.done}/{r.total} steps done before it, the rest not "
                "started: run apply again to finish")
        elif report.dry_run:
            result = f"{len(r.would_change)} to change"
            what = summarize(r.would_change) or "nothing"
        elif r.changed:
            result, what = f"{len(r.changed)} changed", summarize(r.changed)
        else:
            result, what = "[green]no changes[/green]", f"{r.done} steps already in place"
        table.add_row(node, result, what)
    out.print(table)
    if report.roll:
        title = "the roll (would be)" if report.dry_run else "the roll"
        out.print(f"[bold]{title}[/bold]")
        for line in report.roll:
            out.print(f"  {line}", markup=False)
    if report.roll_error:
        err.print(f"[red]error[/red] the roll: {report.roll_error}")
    if not report.dry_run and report.ok:
        out.print("[green]no changes[/green]" if not report.changed else "[green]applied[/green]")


def summarize(steps: list[str], most: int = 12) -> str:
    """Steps grouped by what they touch: "mariadb (3), apache: reload"."""
    groups: dict[str, list[str]] = {}
    for step in steps:
        groups.setdefault(step.split(":", 1)[0], []).append(step)
    parts = [g[0] if len(g) == 1 else f"{key} ({len(g)})" for key, g in groups.items()]
    more = f"; and {len(parts) - most} more" if len(parts) > most else ""
    return "; ".join(parts[:most]) + more


def agent(
    config: Annotated[Path, typer.Option(help="the cluster spec as rendered JSON")],
    node: Annotated[str, typer.Option(help="this node's name")],
) -> None:
    """Run the node agent (systemd starts it; not for interactive use).

    Secrets (HAPAIR_API_TOKEN, HAPAIR_DB_ADMIN_PASSWORD, HAPAIR_DB_REPLICATION_PASSWORD,
    ...) come from systemd's credential `agent-secrets` (LoadCredential, from a
    root-only file), or from the environment, from which they are then removed."""
    import os

    from hapair.agent import run
    from hapair.paths import ETCD_PASSWORD_ENV, FENCE_PASSWORD_ENV, WEBHOOK_SECRET_ENV
    from hapair.secrets import agent_credentials, take_env
    from hapair.spec.models import ClusterSpec

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    spec = ClusterSpec.model_validate_json(config.read_text())
    try:
        me = spec.node(node)
    except KeyError:
        err.print(f"[red]error[/red] no node {node!r} in {config}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    names = ("HAPAIR_API_TOKEN", "HAPAIR_DB_ADMIN_PASSWORD", "HAPAIR_DB_REPLICATION_PASSWORD")
    # Taken out of the environment: every child (alert hooks, fence agents,
    # the mariadb client) inherits it, and none needs them.
    got = take_env(os.environ, (*names, FENCE_PASSWORD_ENV, ETCD_PASSWORD_ENV,
                                WEBHOOK_SECRET_ENV))
    got.update(agent_credentials(os.environ))
    missing = [n for n in names if not got.get(n)]
    if missing:
        err.print(f"[red]error[/red] missing in the environment: {', '.join(missing)}")
        raise typer.Exit(EXIT_BAD_INPUT)
    token, admin, repl = (got[n] for n in names)
    fence_password = got.get(FENCE_PASSWORD_ENV, "")
    if spec.fenced and not fence_password:
        err.print(f"[red]error[/red] the nodes have fence devices but {FENCE_PASSWORD_ENV} "
                  "(the peer's device's password) is not in the environment")
        raise typer.Exit(EXIT_BAD_INPUT)
    etcd_password = got.get(ETCD_PASSWORD_ENV, "")
    if spec.witness is not None and not etcd_password:
        err.print(f"[red]error[/red] the spec names a witness but {ETCD_PASSWORD_ENV} "
                  "(the agents' etcd password) is not in the environment")
        raise typer.Exit(EXIT_BAD_INPUT)
    run(spec, me, token, admin, repl, fence_password=fence_password,
        webhook_secret=got.get(WEBHOOK_SECRET_ENV, ""), etcd_password=etcd_password)
