"""The `hapair` command. Exit codes: 0 ok, 1 a check failed, 2 bad input or usage."""

from __future__ import annotations

from typing import Annotated

import typer

from hapair import __version__
from hapair.cli import (
    apply_cmds,
    backup_cmd,
    drill_cmds,
    fence_cmds,
    lab_cmds,
    logs_cmd,
    maintenance_cmds,
    ops_cmds,
    restore_cmd,
    spec_cmds,
)
from hapair.cli.common import EXIT_OK, App, out

app = App(
    name="hapair",
    help="Turn one cluster spec into a running two-node HA web cluster.",
    no_args_is_help=True,
)
spec_cmds.register(app)
apply_cmds.register(app)
lab_cmds.register(app)
ops_cmds.register(app)
maintenance_cmds.register(app)
logs_cmd.register(app)
backup_cmd.register(app)
restore_cmd.register(app)
fence_cmds.register(app)
drill_cmds.register(app)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out.print(f"hapair {__version__}")
        raise typer.Exit(EXIT_OK)


def main() -> None:
    app()
