"""What every command shares: consoles, exit codes, loading a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hapair.spec import Finding, Loaded, SpecError, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SpecArg = Annotated[
    Path, typer.Argument(help="the cluster spec (TOML)", metavar="SPEC", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def print_findings(file: str, findings: tuple[Finding, ...], console: Console) -> None:
    for f in findings:
        style = "bold red" if f.severity == "error" else "yellow"
        console.print(
            f"[{style}]{f.severity}[/{style}] {f.where(file)}: [bold]{f.path}[/bold]: {f.message}"
        )


def load_or_exit(spec: Path, as_json: bool) -> Loaded:
    """Load the spec, or print every error and exit 2."""
    try:
        return load_spec(spec)
    except SpecError as exc:
        if as_json:
            findings = [f.to_json() for f in exc.findings]
            out.print_json(data={"file": exc.file, "ok": False, "findings": findings})
        else:
            print_findings(exc.file, exc.findings, err)
            count = sum(f.severity == "error" for f in exc.findings)
            err.print(f"[bold red]{exc.file}: {count} error(s); nothing was done[/bold red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None


