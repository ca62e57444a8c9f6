"""hapair restore: the cluster's database back to a moment: the newest good
backup before it, and the binary logs archived since, replayed up to it, on
one node; the agents then rebuild the other from it, as after a failover.
Nothing is destroyed: each node's replaced data is kept aside."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, SpecArg, err, out
from hapair.cli.ops_cmds import SecretsOpt, YesOpt, connect
from hapair.ops import restore as r
from hapair.ops.pitr import PitrError, parse_moment
from hapair.xbstream import REPLAY

FromOpt = Annotated[Path | None, typer.Option(
    "--from", help="the folder of backups and archived binary logs (default: the spec's "
    "backup.dir)")]


def register(app: typer.Typer) -> None:
    app.command()(restore)


def restore(spec: SpecArg,
            at: Annotated[str, typer.Option(
                "--at", help="the moment to go back to (ISO 8601; this host's zone unless "
                "one is given): what was committed before it is kept, the rest discarded")],
            from_: FromOpt = None,
            force: Annotated[bool, typer.Option(
                "--force", help="stop the writes of a running primary for the restore")]
            = False,
            yes: YesOpt = False, secrets: SecretsOpt = None) -> None:
    """Restore the database to a moment, on both nodes (asks first)."""
    started = time.monotonic()
    try:
        moment = parse_moment(at)
        if moment > dt.datetime.now(dt.UTC):
            raise PitrError(f"--at {at}: that moment has not come yet")
    except PitrError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    agents = connect(spec, secrets)
    cluster = agents.spec
    root = from_ or Path(cluster.backup.dir)
    try:
        plan = r.plan(agents, moment, root, _say)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=root) as tmp:
            count = r.make_replay(root, plan, Path(tmp) / REPLAY)
            out.print(f"restore {cluster.name} to {moment.isoformat(timespec='seconds')}: "
                      f"the backup {plan.folder.name} (GTID {plan.backup.gtid}) and {count} "
                      f"transaction(s) from {plan.logs_node}'s binary logs, on {plan.target}; "
                      f"{plan.target}'s peer is then rebuilt from it. Every booking committed "
                      "after that moment is discarded (each node keeps its replaced data "
                      "aside).")
            if plan.writable and not force:
                err.print(f"[red]error[/red] {', '.join(plan.writable)} is a running primary: "
                          "`--force` stops its writes for the restore")
                raise typer.Exit(EXIT_BAD_INPUT)
            if not yes and not typer.confirm("go ahead?", default=False):
                raise typer.Exit(EXIT_FAILED)
            r.carry_out(agents, plan, Path(tmp) / REPLAY, Path(tmp), _say)
    except r.RestoreError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"[green]restored[/green] in {time.monotonic() - started:.1f}s: {plan.target} is "
              "the primary, its peer rebuilt from it and replicating")


def _say(message: str) -> None:
    out.print(f"  {escape(message)}")
