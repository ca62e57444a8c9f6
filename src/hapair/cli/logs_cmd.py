"""hapair logs: both agents' decisions, merged by time."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from hapair.cli.common import SpecArg, out
from hapair.cli.ops_cmds import SecretsOpt, connect
from hapair.ops.logs import Line, merge


def register(app: typer.Typer) -> None:
    app.command()(logs)


def logs(spec: SpecArg, follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="keep printing new decisions (Ctrl-C ends)")] = False,
         secrets: SecretsOpt = None) -> None:
    """Both agents' recent decisions, merged by time (each agent keeps its last 30)."""
    agents = connect(spec, secrets)
    seen: set[Line] = set()
    try:
        while True:
            statuses = agents.statuses()
            for line in merge(statuses, seen):
                out.print(line.text(), markup=False, highlight=False)
            if not follow:
                for s in statuses:
                    if s.doc is None:
                        out.print(f"{s.node}: {s.unreachable}", markup=False)
                return
            time.sleep(1.0)
    except KeyboardInterrupt:
        return
