"""hapair backup: the database (mariadb-backup, from the standby) and the
static files, to a folder on this host, prepared and so verified; the oldest
pruned. `--list` shows what exists."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, JsonOpt, SpecArg, err, out
from hapair.cli.ops_cmds import SecretsOpt, connect, locate
from hapair.ops import archive
from hapair.ops.backup import (
    PARTIAL,
    BackupError,
    BackupInfo,
    choose_source,
    folder_name,
    good,
    listing,
    size,
    timer_units,
    to_remove,
    write_info,
)
from hapair.ops.client import AgentError, Agents
from hapair.ops.pitr import reach
from hapair.xbstream import backup_gtid, unpack

UNIT_DIR = "/etc/systemd/system"
ToOpt = Annotated[Path | None, typer.Option(
    "--to", help="the folder to keep backups in (default: the spec's backup.dir)")]


def register(app: typer.Typer) -> None:
    app.command()(backup)


def backup(spec: SpecArg, to: ToOpt = None,
           from_: Annotated[str | None, typer.Option(
               "--from", help="take it from this node, even the primary (default: the "
               "standby)")] = None,
           keep: Annotated[int | None, typer.Option(
               "--keep", min=1, help="good backups to keep (default: the spec's backup.keep)")]
           = None,
           list_: Annotated[bool, typer.Option(
               "--list", help="show the backups that exist, and take none")] = False,
           timer: Annotated[bool, typer.Option(
               "--timer", help="install a systemd timer on this host that takes one on the "
               "spec's backup.schedule, and take none now")] = False,
           binlogs: Annotated[bool, typer.Option(
               "--binlogs", help="archive the nodes' binary logs (what is new since the "
               "last time), for `hapair restore --at`, instead of a backup")] = False,
           follow: Annotated[float | None, typer.Option(
               "--follow", min=1.0, help="with --binlogs: go on, every this many seconds")]
           = None,
           secrets: SecretsOpt = None, as_json: JsonOpt = False) -> None:
    """Take a backup of the database and the static files from the standby."""
    if timer:
        install_timer(spec, secrets, to, keep)
        return
    agents = connect(spec, secrets)
    cluster = agents.spec
    root = to or Path(cluster.backup.dir)
    if list_:
        show(root, cluster.name, as_json)
        return
    if binlogs:
        archive_binlogs(agents, root, follow)
        return
    try:
        node, why = choose_source(agents.statuses(), from_)
        folder, info = take(agents, node, root)
    except (BackupError, AgentError, OSError, RuntimeError) as exc:
        err.print(f"[red]error[/red] backup not taken: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(f"  from {node}, {why}")
    if not info.verified:
        err.print(f"[red]error[/red] {folder}: mariadb-backup --prepare failed, this backup is "
                  f"not good: {escape(info.problem)}")
        raise typer.Exit(EXIT_FAILED)
    removed = to_remove(listing(root, cluster.name), keep or cluster.backup.keep)
    for old in removed:
        shutil.rmtree(old)
    out.print(f"[green]backup taken[/green] in {info.took_s:.1f}s: {folder} (GTID {info.gtid}, "
              f"database {size(info.db_bytes)}, files {size(info.files_bytes)})"
              + (f"; removed {len(removed)} older" if removed else ""))


def archive_binlogs(agents: Agents, root: Path, every: float | None) -> None:
    """Each answering node's new binary logs into the archive; with `every`,
    again and again (a service's loop), a failed round said and retried."""
    while True:
        began = time.monotonic()
        for node in agents.spec.nodes:
            try:
                files, got = archive.archive_node(agents, node, root,
                                                  lambda m: out.print(f"  {escape(m)}"))
            except (AgentError, OSError, ValueError) as exc:
                err.print(f"[yellow]binary logs of {node.name} not archived[/yellow]: "
                          f"{escape(str(exc))}")
                if every is None:
                    raise typer.Exit(EXIT_FAILED) from None
                continue
            if got or every is None:
                out.print(f"binary logs of {node.name}: {files} file(s), {size(got)} new, in "
                          f"{archive.folder_of(root, node.name)}")
        if every is None:
            return
        time.sleep(max(0.0, every - (time.monotonic() - began)))


def install_timer(spec: Path, secrets: Path | None, to: Path | None, keep: int | None) -> None:
    cluster, secrets_path = locate(spec, secrets)
    argv = [sys.executable, "-m", "hapair", "backup", str(spec.resolve())]
    if secrets_path is not None:
        argv += ["--secrets", str(Path(secrets_path).resolve())]
    argv += ["--to", str(to.resolve())] if to else []
    argv += ["--keep", str(keep)] if keep else []
    check = subprocess.run(["systemd-analyze", "calendar", cluster.backup.schedule],
                           capture_output=True, text=True)
    if check.returncode != 0:
        err.print(f"[red]error[/red] backup.schedule {cluster.backup.schedule!r} is not a "
                  f"systemd calendar expression: {escape(check.stderr.strip())}")
        raise typer.Exit(EXIT_BAD_INPUT)
    units = timer_units(cluster.name, cluster.backup.schedule, argv,
                        cluster.backup.binlogs_every_s)
    for name, text in units.items():
        Path(UNIT_DIR, name).write_text(text)
    timer_unit = next(n for n in units if n.endswith(".timer"))
    archiver = next(n for n in units if n.startswith("hapair-binlogs-"))
    for cmd in (["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", timer_unit, archiver]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            err.print(f"[red]error[/red] {' '.join(cmd)}: {escape(done.stderr.strip())}")
            raise typer.Exit(EXIT_FAILED)
    out.print(f"[green]timer installed[/green]: {timer_unit} ({cluster.backup.schedule}) runs "
              f"{' '.join(argv)}, and {archiver} archives the binary logs every "
              f"{cluster.backup.binlogs_every_s:g}s; `systemctl disable --now {timer_unit} "
              f"{archiver}` stops them")


def take(agents: Agents, node_name: str, root: Path) -> tuple[Path, BackupInfo]:
    node = agents.spec.node(node_name)
    started, began = dt.datetime.now(dt.UTC), time.monotonic()
    final = root / folder_name(agents.spec.name, started)
    work = final.with_name(final.name + PARTIAL)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    work.mkdir(mode=0o700)
    out.print(f"  database: streaming mariadb-backup from {node_name}")
    (work / "db").mkdir()
    with agents.stream(node, "/backup") as stream:
        unpack(stream, work / "db")
    gtid = backup_gtid(work / "db")
    out.print("  database: mariadb-backup --prepare (the check that it restores)")
    prepared = subprocess.run(["mariadb-backup", "--prepare", f"--target-dir={work / 'db'}"],
                              capture_output=True, text=True, timeout=1800)
    out.print("  static files: the volume as a tar.gz")
    with agents.stream(node, "/files") as stream, (work / "static.tar.gz").open("wb") as f:
        shutil.copyfileobj(stream, f, 1 << 20)
    info = BackupInfo(
        cluster=agents.spec.name, node=node_name, taken_at=started.isoformat(),
        took_s=round(time.monotonic() - began, 2), gtid=gtid,
        db_bytes=sum(p.stat().st_size for p in (work / "db").rglob("*") if p.is_file()),
        files_bytes=(work / "static.tar.gz").stat().st_size,
        verified=prepared.returncode == 0,
        problem="" if prepared.returncode == 0 else prepared.stderr.strip()[-300:])
    write_info(work, info)
    work.rename(final)
    return final, info


def show(root: Path, cluster: str, as_json: bool) -> None:
    entries = listing(root, cluster)
    if as_json:
        out.print_json(data=[{"folder": str(p), "good": good((p, i)),
                              **(i.model_dump() if i else {})} for p, i in entries])
        return
    table = Table(title=f"backups of {cluster} in {root}")
    for col in ("folder", "taken (UTC)", "from", "GTID", "database", "files", "state"):
        table.add_column(col)
    for p, i in entries:
        if i is None:
            table.add_row(p.name, "", "", "", "", "", "[red]incomplete (no backup.json)[/red]")
            continue
        state = "[green]good[/green]" if good((p, i)) else f"[red]not good: {escape(i.problem)}"
        table.add_row(p.name, i.taken_at[:19], i.node, i.gtid, size(i.db_bytes),
                      size(i.files_bytes), state)
    out.print(table)
    if not any(good(e) for e in entries):
        out.print("no good backup: a restore has nothing to start from")
        return
    nodes = sorted(p.name for p in (root / "binlogs").glob("*") if "." not in p.name)
    logs = archive.archives(root, nodes)
    for a in logs:
        out.print(f"binary logs of {a.node}: {len(a.files)} file(s), from "
                  f"{a.files[0].first or a.files[0].start or 'the start' if a.files else '-'}, "
                  f"archived up to {a.fetched_at[:19] or 'never'}")
    out.print(reach([i for p, i in entries if i is not None and good((p, i))], logs))
