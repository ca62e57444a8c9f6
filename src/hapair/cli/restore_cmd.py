"""hapair restore: the cluster's database back to a moment: the newest good
backup before it, and the binary logs archived since, replayed up to it, on
one node; the agents then rebuild the other from it, as after a failover.
Nothing is destroyed: each node's replaced data is kept aside."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, SpecArg, err, out
from hapair.cli.ops_cmds import SecretsOpt, YesOpt, connect
from hapair.model.roles import Role
from hapair.model.status import NodeStatus
from hapair.ops import archive
from hapair.ops.backup import good, listing, size
from hapair.ops.client import AgentError, Agents
from hapair.ops.pitr import PitrError, choose_archive, choose_backup, parse_moment
from hapair.xbstream import REPLAY

FromOpt = Annotated[Path | None, typer.Option(
    "--from", help="the folder of backups and archived binary logs (default: the spec's "
    "backup.dir)")]
SETTLE_S = 300.0


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
        statuses = agents.statuses()
        for s in statuses:
            if s.doc is not None:
                fetched, got = archive.archive_node(agents, cluster.node(s.node), root,
                                                     lambda m: out.print(f"  {escape(m)}"))
                out.print(f"  binary logs of {s.node}: {fetched} file(s), {size(got)} new")
        entries = [(p, i) for p, i in listing(root, cluster.name) if good((p, i))]
        chosen = choose_backup([i for _, i in entries if i is not None], moment)
        folder = next(p for p, i in entries if i == chosen)
        primary = next((s.node for s in statuses if s.doc and s.doc.role is Role.PRIMARY), "")
        logs, files = choose_archive(archive.archives(root, [n.name for n in cluster.nodes]),
                                     chosen.gtid, moment, prefer=primary)
    except (PitrError, AgentError, OSError) as exc:
        err.print(f"[red]error[/red] nothing restored: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    writable = [s.node for s in statuses if s.doc and s.doc.db_up and not s.doc.read_only]
    target = _target(statuses, writable)
    if target is None:
        err.print("[red]error[/red] nothing restored: no node's agent answers with its "
                  "database up")
        raise typer.Exit(EXIT_FAILED)
    # Beside the backups: the stream is made of hard links to the backup's files.
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=root) as tmp:
        replay = Path(tmp) / REPLAY
        try:
            count = _replay(archive.folder_of(root, logs.node), [f.name for f in files],
                            chosen.gtid, moment, replay)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            err.print(f"[red]error[/red] nothing restored: {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED) from None
        out.print(f"restore {cluster.name} to {moment.isoformat(timespec='seconds')}: the "
                  f"backup {folder.name} (GTID {chosen.gtid}) and {count} transaction(s) "
                  f"from {logs.node}'s binary logs, on {target}; {target}'s peer is then "
                  "rebuilt from it. Every booking committed after that moment is discarded "
                  "(each node keeps its replaced data aside).")
        if writable and not force:
            err.print(f"[red]error[/red] {', '.join(writable)} is a running primary: "
                      "`--force` stops its writes for the restore")
            raise typer.Exit(EXIT_BAD_INPUT)
        if not yes and not typer.confirm("go ahead?", default=False):
            raise typer.Exit(EXIT_FAILED)
        try:
            _carry_out(agents, statuses, target, writable, folder / "db", replay, tmp)
        except (AgentError, OSError, RuntimeError) as exc:
            err.print(f"[red]error[/red] the restore stopped: {escape(str(exc))}; "
                      "`hapair status` shows where the cluster is, `hapair resume` undoes "
                      "the pause")
            raise typer.Exit(EXIT_FAILED) from None
    out.print(f"[green]restored[/green] in {time.monotonic() - started:.1f}s: {target} is the "
              "primary, its peer rebuilt from it and replicating")


def _target(statuses: list[NodeStatus], writable: list[str]) -> str | None:
    """The standby (its database up, not writable); else the primary."""
    up = [s.node for s in statuses if s.doc is not None and s.doc.db_up]
    return next((n for n in up if n not in writable), up[0] if up else None)


def _replay(folder: Path, names: list[str], position: str, moment: dt.datetime,
            into: Path) -> int:
    """mariadb-binlog from after the backup's position to the moment (in this
    host's zone, as mariadb-binlog reads it), into a file; the transactions."""
    local = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    with into.open("wb") as f:
        os.chmod(into, 0o600)
        # Not strict: a backup whose position is the archive's last
        # transaction has nothing to replay (strict, that is an error).
        r = subprocess.run(["mariadb-binlog", "--skip-gtid-strict-mode",
                            f"--start-position={position}",
                            f"--stop-datetime={local}", *(str(folder / n) for n in names)],
                           stdout=f, stderr=subprocess.PIPE, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"mariadb-binlog: {r.stderr.decode(errors='replace')[-300:]}")
    with into.open("rb") as f:
        return sum(1 for line in f if line.startswith(b"/*M!100001 SET @@session.gtid_seq_no"))


def _carry_out(agents: Agents, statuses: list[NodeStatus], target: str, writable: list[str],
               db: Path, replay: Path, tmp: str) -> None:
    """The stream first (a failure there leaves the cluster as it was), then
    the pause, the fence, the upload, and the wait."""
    cluster = agents.spec
    above = max((s.doc.epoch for s in statuses if s.doc is not None), default=0)
    answering = [s.node for s in statuses if s.doc is not None]
    stream = Path(tmp) / "restore.xbstream"
    stage = Path(tmp) / "stage"
    shutil.copytree(db, stage, copy_function=os.link)
    shutil.copy2(replay, stage / REPLAY)
    names = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    with stream.open("wb") as f:
        r = subprocess.run(["mbstream", "-c", *names], cwd=stage, stdout=f,
                           stderr=subprocess.PIPE, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"mbstream: {r.stderr.decode(errors='replace')[-300:]}")
    for name in answering:
        agents.post(cluster.node(name), "/pause")
    out.print(f"  paused: {', '.join(answering)} (no automatic role change)")
    for name in writable:
        agents.post(cluster.node(name), "/fence", {"by": "restore"})
        out.print(f"  {name}: writes stopped (read_only=ON)")
    out.print(f"  sending the backup and the replay to {target} "
              f"({stream.stat().st_size // 1_000_000} MB)")
    with stream.open("rb") as f:
        agents.upload(cluster.node(target), "/restore", f, stream.stat().st_size,
                      {"X-Hapair-Epoch-Above": str(above)})
    _wait(agents, target, above, answering)


def _wait(agents: Agents, target: str, above: int, answering: list[str]) -> None:
    cluster = agents.spec
    deadline = time.monotonic() + SETTLE_S
    resumed, said = False, ""
    while time.monotonic() < deadline:
        time.sleep(0.5)
        docs = {s.node: s.doc for s in agents.statuses()}
        t = docs.get(target)
        if t is not None and not resumed and not t.task and t.epoch <= above:
            # Accepted as a long action, ended, and no new epoch: it failed.
            raise RuntimeError(f"the restore failed on {target} (`hapair logs SPEC` says "
                               "why; its data before it is kept in "
                               "/var/lib/hapair/replaced-data)")
        if t is not None and not resumed and t.epoch > above and t.epoch_primary == target:
            out.print(f"  {target}: restored, epoch {t.epoch} names it the primary")
            for name in answering:
                if name != target:
                    agents.post(cluster.node(name), "/resume")
            resumed = True
        peers = [d for n, d in docs.items() if n != target]
        if (resumed and t is not None and t.role is Role.PRIMARY
                and all(d is not None and d.role is Role.REPLICA and d.complete
                        for d in peers)):
            return
        now = "; ".join(f"{n}: {d.reason[:90] if d else 'no answer'}" for n, d in docs.items())
        if now != said:
            out.print(f"  waiting: {escape(now)}")
            said = now
    raise RuntimeError(f"the cluster did not settle within {SETTLE_S:.0f}s")
