"""The `hapair` command. Exit codes: 0 ok, 1 a check failed, 2 bad input or usage."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hapair import __version__
from hapair.render import render_cluster, write_tree
from hapair.secrets import Secrets, SecretsError, load_secrets, new_secrets_file
from hapair.spec import Finding, Loaded, SpecError, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(
    name="hapair",
    help="Turn one cluster spec into a running two-node HA web cluster.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SpecArg = Annotated[
    Path, typer.Argument(help="the cluster spec (TOML)", metavar="SPEC", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def _print_findings(file: str, findings: tuple[Finding, ...], console: Console) -> None:
    for f in findings:
        style = "bold red" if f.severity == "error" else "yellow"
        console.print(
            f"[{style}]{f.severity}[/{style}] {f.where(file)}: [bold]{f.path}[/bold]: {f.message}"
        )


def _load(spec: Path, as_json: bool) -> Loaded:
    """Load the spec, or print every error and exit 2."""
    try:
        return load_spec(spec)
    except SpecError as exc:
        if as_json:
            findings = [f.to_json() for f in exc.findings]
            out.print_json(data={"file": exc.file, "ok": False, "findings": findings})
        else:
            _print_findings(exc.file, exc.findings, err)
            count = sum(f.severity == "error" for f in exc.findings)
            err.print(f"[bold red]{exc.file}: {count} error(s); nothing was done[/bold red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command()
def validate(spec: SpecArg, as_json: JsonOpt = False) -> None:
    """Check a cluster spec and report every mistake with its field and line."""
    loaded = _load(spec, as_json)
    s = loaded.spec
    if as_json:
        out.print_json(
            data={"file": str(spec), "ok": True, "cluster": s.name,
                  "findings": [f.to_json() for f in loaded.warnings]}
        )
        return
    _print_findings(str(spec), loaded.warnings, err)
    nodes = ", ".join(f"{n.name} ({n.interconnect}, {n.public})" for n in s.nodes)
    out.print(
        f"[green]ok[/green] {spec}: cluster [bold]{s.name}[/bold]: {nodes}; VIP {s.vip.address}"
    )


@app.command()
def render(
    spec: SpecArg,
    out_dir: Annotated[Path, typer.Option("--out", help="where to write one folder a node")],
    as_json: JsonOpt = False,
) -> None:
    """Write every file each node needs, one folder a node, paths as on the node."""
    loaded = _load(spec, as_json)
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
            data={node: [{"path": f.path, "mode": oct(f.mode), "component": f.component}
                         for f in files] for node, files in rendered.items()}
        )
        return
    _print_findings(str(spec), loaded.warnings, err)
    table = Table(title=f"{loaded.spec.name}: rendered into {out_dir}")
    table.add_column("component")
    table.add_column("path on the node")
    table.add_column("mode")
    for node in rendered:
        table.add_column(node, justify="right")
    first = next(iter(rendered.values()))
    for i, f in enumerate(first):
        sizes = [f"{len(files[i].content)} B" for files in rendered.values()]
        table.add_row(f.component, f.path, oct(f.mode)[2:], *sizes)
    out.print(table)


secrets_app = typer.Typer(help="Create and check the secrets file.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
SecretsArg = Annotated[Path, typer.Argument(help="the secrets file", metavar="FILE")]


@secrets_app.command("new")
def secrets_new(file: SecretsArg) -> None:
    """Write a secrets file with fresh random values (mode 0600); never overwrites."""
    try:
        new_secrets_file(file)
    except FileExistsError:
        err.print(f"[red]{file} exists already; nothing was written[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"[green]wrote[/green] {file} (mode 600): {', '.join(Secrets.model_fields)}")


@secrets_app.command("check")
def secrets_check(file: SecretsArg) -> None:
    """Check a secrets file (and HAPAIR_* overrides) without printing any value."""
    try:
        load_secrets(file)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"[green]ok[/green] {file}: {len(Secrets.model_fields)} secrets present")


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out.print(f"hapair {__version__}")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    app()
