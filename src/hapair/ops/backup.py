"""Backups of the cluster taken by `hapair backup` (cli/backup_cmd.py): which
node to take them from, what a backup folder holds, which to keep. Pure but
for reading and writing the folders' `backup.json`.

A backup is a folder `<cluster>-<UTC time>` under the spec's `backup.dir`:
`db/` the database as mariadb-backup left it after `--prepare` (ready to be
copied into a data directory), `static.tar.gz` the static files' volume, and
`backup.json` (this module's `BackupInfo`). One still being written ends in
`.partial`; one whose prepare failed says so in its `backup.json` and never
counts as good."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

from pydantic import BaseModel, ValidationError

from hapair.model.roles import Role
from hapair.model.status import NodeStatus

INFO = "backup.json"
PARTIAL = ".partial"


class BackupError(Exception):
    pass


class BackupInfo(BaseModel):
    cluster: str
    node: str  # the node it was taken from
    taken_at: str  # ISO 8601, UTC, when the stream began
    took_s: float
    gtid: str  # the database's position (mariadb-backup's binlog_info)
    db_bytes: int
    files_bytes: int
    verified: bool  # mariadb-backup --prepare succeeded
    problem: str = ""


def size(n: int) -> str:
    """Bytes for a person: 512 B, 3.4 kB, 18.4 MB, 2.1 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def folder_name(cluster: str, when: dt.datetime) -> str:
    return f"{cluster}-{when.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def choose_source(statuses: list[NodeStatus], asked: str | None = None) -> tuple[str, str]:
    """(node, why): the standby, a complete replica, so that the primary's
    bookings never wait behind a backup; the primary only if asked by name."""
    docs = {s.node: s.doc for s in statuses}
    if asked is not None:
        doc = docs.get(asked)
        if doc is None:
            raise BackupError(f"--from {asked}: its agent does not answer")
        if not doc.db_up:
            raise BackupError(f"--from {asked}: its database is down")
        return asked, "asked for by name"
    for name, doc in docs.items():
        if doc is not None and doc.role is Role.REPLICA and doc.db_up and doc.complete:
            return name, "the standby, a complete replica"
    said = "; ".join(f"{s.node}: {s.doc.role.value if s.doc else s.unreachable}"
                     for s in statuses)
    raise BackupError(f"no complete standby to take it from ({said}); `--from NODE` takes it "
                      "from that node, the primary included (it then carries the load)")


def read_info(folder: Path) -> BackupInfo | None:
    try:
        return BackupInfo.model_validate_json((folder / INFO).read_text())
    except (OSError, ValidationError, ValueError):
        return None


def write_info(folder: Path, info: BackupInfo) -> None:
    tmp = folder / f"{INFO}.tmp"
    tmp.write_text(json.dumps(info.model_dump(), indent=1) + "\n")
    tmp.replace(folder / INFO)


def listing(root: Path, cluster: str) -> list[tuple[Path, BackupInfo | None]]:
    """Every backup folder of the cluster, oldest first (None: no readable
    backup.json: an interrupted or foreign folder)."""
    if not root.is_dir():
        return []
    found = sorted(p for p in root.iterdir()
                   if p.is_dir() and p.name.startswith(f"{cluster}-"))
    return [(p, read_info(p)) for p in found]


def good(entry: tuple[Path, BackupInfo | None]) -> bool:
    path, info = entry
    return info is not None and info.verified and not path.name.endswith(PARTIAL)


def to_remove(entries: list[tuple[Path, BackupInfo | None]], keep: int) -> list[Path]:
    """The good backups beyond the newest `keep`, and failed or interrupted
    ones older than the oldest good backup kept (a failure newer than that
    stays, to be looked at)."""
    goods = [e for e in entries if good(e)]
    kept = goods[-keep:]
    if not kept:
        return []
    oldest_kept, kept_paths = kept[0][0].name, {p for p, _ in kept}
    return [p for p, _ in entries
            if p not in kept_paths and p.name.removesuffix(PARTIAL) < oldest_kept]


WRITTEN = "# Written by `hapair backup --timer`: edit the spec and run it again."


def timer_units(cluster: str, schedule: str, argv: list[str], binlogs_every_s: float = 10.0
                ) -> dict[str, str]:
    """A systemd service and timer on this host that run `hapair backup`
    (argv, absolute paths) on the spec's schedule, and a service that
    archives the binary logs all along; {unit file name: text}."""
    name = f"hapair-backup-{cluster}"
    command = " ".join(shlex.quote(a) for a in argv)
    return {
        f"hapair-binlogs-{cluster}.service": f"""{WRITTEN}
[Unit]
Description=hapair: archive the binary logs of cluster {cluster} (for hapair restore --at)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={command} --binlogs --follow {binlogs_every_s:g}
Restart=always
RestartSec=10
Nice=10

[Install]
WantedBy=multi-user.target
""",
        f"{name}.service": f"""{WRITTEN}
[Unit]
Description=hapair: a backup of cluster {cluster} from its standby
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={command}
Nice=10
IOSchedulingClass=idle
""",
        f"{name}.timer": f"""{WRITTEN}
[Unit]
Description=hapair: back up cluster {cluster} ({schedule})

[Timer]
OnCalendar={schedule}
Persistent=true
RandomizedDelaySec=300

[Install]
WantedBy=timers.target
""",
    }
