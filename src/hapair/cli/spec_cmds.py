"""validate, render, secrets: the spec and what it renders to."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hapair.cli.common import (
    EXIT_BAD_INPUT,
    App,
    JsonOpt,
    SpecArg,
    err,
    load_or_exit,
    out,
    print_findings,
)
from hapair.fence.check import device_findings
from hapair.render import render_cluster, write_tree
from hapair.secrets import (
    CORE,
    SecretsError,
    add_ca,
    load_api_token,
    load_secrets,
    new_secrets_file,
    read_token,
    renew_ca_cert,
)
from hapair.spec.locate import key_lines, line_of


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(render)
    secrets_app = App(help="Create and check the secrets file.", no_args_is_help=True)
    secrets_app.command("new")(secrets_new)
    secrets_app.command("check")(secrets_check)
    secrets_app.command("ca")(secrets_ca)
    secrets_app.command("read-token")(secrets_read_token)
    app.add_typer(secrets_app, name="secrets")


def validate(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Check a cluster spec and report every mistake with its field and line."""
    loaded = load_or_exit(spec, as_json)
    s = loaded.spec
    lines = key_lines(spec.read_text(encoding="utf-8"))
    devices = [replace(f, line=line_of(lines, f.loc)) for f in device_findings(s)]
    if devices:
        if as_json:
            out.print_json(data={"file": str(spec), "ok": False,
                                 "findings": [f.to_json() for f in devices]})
        else:
            print_findings(str(spec), tuple(devices), err)
        raise typer.Exit(EXIT_BAD_INPUT)
    if as_json:
        out.print_json(
            data={"file": str(spec), "ok": True, "cluster": s.name,
                  "findings": [f.to_json() for f in loaded.warnings]}
        )
        return
    print_findings(str(spec), loaded.warnings, err)
    nodes = ", ".join(f"{n.name} ({n.interconnect}, {n.public})" for n in s.nodes)
    out.print(
        f"[green]ok[/green] {spec}: cluster [bold]{s.name}[/bold]: {nodes}; VIP {s.vip.address}"
    )


def render(
    spec: SpecArg,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write one folder a node")],
    as_json: JsonOpt = False,
) -> None:
    """Write every file each node needs, one folder a node, paths as on the node."""
    loaded = load_or_exit(spec, as_json)
    rendered = render_cluster(loaded.spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Each node's folder is written aside and swapped in whole: never half a tree.
    for node, files in rendered.items():
        staging = Path(tempfile.mkdtemp(prefix=f".{node}.", dir=out_dir))
        write_tree(staging, files)
        target = out_dir / node
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    if as_json:
        out.print_json(
            data={node: [{"path": f.path, "mode": f"{f.mode:04o}", "component": f.component}
                         for f in files] for node, files in rendered.items()}
        )
        return
    print_findings(str(spec), loaded.warnings, err)
    table = Table(title=f"{loaded.spec.name}: rendered into {out_dir}")
    table.add_column("component")
    table.add_column("path on the node")
    table.add_column("mode")
    for node in rendered:
        table.add_column(node, justify="right")
    first = next(iter(rendered.values()))
    for i, f in enumerate(first):
        sizes = [f"{len(files[i].content)} B" for files in rendered.values()]
        table.add_row(f.component, f.path, f"{f.mode:04o}", *sizes)
    out.print(table)


SecretsArg = Annotated[Path, typer.Argument(help="the secrets file", metavar="FILE")]
SpecOpt = Annotated[Path | None, typer.Option(
    "--spec", help="the cluster spec: its web.secrets are the application's own")]


def secrets_new(file: SecretsArg, spec: SpecOpt = None) -> None:
    """Write a secrets file with fresh random values (mode 0600); never overwrites."""
    cluster = load_or_exit(spec, False).spec if spec else None
    app_names = cluster.web.secrets if cluster else ()
    fenced = tuple(n.name for n in cluster.nodes if n.fence) if cluster else ()
    try:
        new_secrets_file(file, app_names, fenced,
                         ca_for=cluster.name if cluster else "hapair")
    except FileExistsError:
        err.print(f"[red]{file} exists already; nothing was written[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"[green]wrote[/green] {file} (mode 600): {', '.join((*CORE, *app_names))}")


def secrets_ca(file: SecretsArg, spec: SpecArg, renew: Annotated[bool, typer.Option(
        "--renew", help="give an existing CA certificate the Subject Key Identifier that "
        "nodes with Python 3.13 want (same key: its certificates stay valid)")] = False,
               ) -> None:
    """Add the cluster's certificate authority (the agents' TLS, the witness's etcd) to an
    existing secrets file that has none; nothing else in it changes."""
    cluster = load_or_exit(spec, False).spec
    try:
        if renew:
            done = renew_ca_cert(file)
            out.print(f"[green]renewed[/green] the CA certificate in {file} (same key)" if done
                      else f"{file}'s CA certificate needs nothing; nothing was changed")
            return
        added = add_ca(file, cluster.name)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"[green]added[/green] a CA for {cluster.name} to {file}" if added
              else f"{file} has a CA already; nothing was changed")


def secrets_read_token(file: SecretsArg) -> None:
    """Print the read-only credential: the status page's password (any user name), and a
    Bearer token for /status and monitoring. It changes nothing on the cluster."""
    try:
        token = load_api_token(file)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    print(read_token(token))


def secrets_check(file: SecretsArg, spec: SpecOpt = None) -> None:
    """Check a secrets file (and HAPAIR_* overrides) without printing any value."""
    try:
        loaded = load_secrets(file)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    missing = loaded.missing_app_secrets(load_or_exit(spec, False).spec.web.secrets) if spec else []
    if missing:
        err.print(f"[red]error[/red] {file}: [app] lacks {', '.join(missing)} (spec: web.secrets)")
        raise typer.Exit(EXIT_BAD_INPUT)
    out.print(f"[green]ok[/green] {file}: {len(CORE) + len(loaded.app)} secrets present")


