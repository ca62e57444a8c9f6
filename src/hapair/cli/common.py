"""What every command shares: consoles, exit codes, loading a spec."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand
from typer.models import CommandFunctionType

from hapair.spec import Finding, Loaded, SpecError, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2



def _width(stream: TextIO) -> int | None:
    """A terminal's own width; piped or redirected output is never cut to 80
    columns (rich's default): a table takes the width it needs, up to 220."""
    if stream.isatty() or "COLUMNS" in os.environ:
        return None
    return 220


out = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))

class _PlainUsage(TyperCommand):
    """Usage lines as click writes them (`hapair status [OPTIONS] SPEC`):
    typer wraps a required argument in braces, which reads as a choice."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p
                for p in super().collect_usage_pieces(ctx)]


class App(typer.Typer):
    """hapair's command groups: plain usage lines, no shell completion."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(add_completion=False, rich_markup_mode=None, **kwargs)

    def command(self, *args: Any, **kwargs: Any
                ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", _PlainUsage)
        return super().command(*args, **kwargs)


SpecArg = Annotated[
    Path, typer.Argument(help="the cluster spec (TOML)", metavar="SPEC", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def print_findings(file: str, findings: tuple[Finding, ...], console: Console) -> None:
    for f in findings:
        style = "bold red" if f.severity == "error" else "yellow"
        # What the spec said is text, never markup: a name like "[/bold]" stays as written.
        console.print(f"[{style}]{f.severity}[/{style}] {escape(f.where(file))}: "
                      f"[bold]{escape(f.path)}[/bold]: {escape(f.message)}")


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
            err.print(f"[bold red]{escape(exc.file)}: {count} error(s); nothing was done"
                      "[/bold red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None


BuildOnNode = Annotated[list[str] | None, typer.Option(
    "--build-on-node", metavar="NAME",
    help="a dependency shipped as its source archive and built on the nodes, as one with no "
         "wheel for their Python or machine is (repeatable); the nodes get a C compiler")]
