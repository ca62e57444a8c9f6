"""Point-in-time recovery, the decisions (pure but for reading and writing an
archive's index): what to fetch of each node's binary logs, which backup and
which archive a restore to a moment starts from.

The archive is `<backup.dir>/binlogs/<node>/`: the node's binary logs as
fetched, and `index.json` (`Archive`). A node's logs begin anew when it is
rebuilt (its data, binary logs included, replaced), and a new cluster under an
old name begins as the old one did: a file of the same name that begins at
another GTID state, was begun at another moment or by another server, or is
shorter than its copy, is another history, so the folder is set aside
(`<node>.<UTC time>`) and a new one begun. A restore replays from one
archive only, one that holds the backup's position and was fetched after the
moment: a node's binary logs since its last rebuild are one history, without
the transactions a fenced primary wrote that no one else has (those ended
with its rebuild)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from hapair import gtid
from hapair.ops.backup import BackupInfo

INDEX = "index.json"


class PitrError(Exception):
    pass


class Logged(BaseModel):
    name: str
    start: str  # the GTID state the file begins at (its Gtid_list event)
    first: str = ""  # its first transaction's GTID ("": none yet)
    size: int
    made: str = ""  # binlog.identity of its first bytes ("": not known)

    def begins_by(self, position: str) -> bool:
        """Whether every transaction after ``position`` is in this file or the
        ones after it (a rebuilt node's first file says "[]" as its state:
        its first transaction says where it begins)."""
        if self.first:
            first = gtid.parse(self.first)
            reached = gtid.parse(position)
            return all(g.seq <= (reached[d].seq if d in reached else 0) + 1
                       for d, g in first.items())
        reached = gtid.parse(position)
        # A Gtid_list names the last GTID of each server in a domain: the
        # state is the highest.
        state: dict[int, int] = {}
        for part in filter(None, self.start.split(",")):
            for d, g in gtid.parse(part).items():
                state[d] = max(state.get(d, 0), g.seq)
        return bool(state) and all(d in reached and reached[d].seq >= seq
                                   for d, seq in state.items())


class Archive(BaseModel):
    node: str
    files: list[Logged] = []
    fetched_at: str = ""  # ISO 8601, UTC: everything committed before it is here


def read_archive(folder: Path, node: str) -> Archive:
    try:
        return Archive.model_validate_json((folder / INDEX).read_text())
    except (OSError, ValidationError, ValueError):
        return Archive(node=node)


def write_archive(folder: Path, archive: Archive) -> None:
    tmp = folder / f"{INDEX}.tmp"
    tmp.write_text(json.dumps(archive.model_dump(), indent=1) + "\n")
    tmp.replace(folder / INDEX)


def another_history(archive: Archive, listed: list[Logged]) -> bool:
    """The node's binary logs are not the ones archived: a file of the same
    name begins elsewhere (the node was rebuilt: its logs begin again at the
    first name, from another transaction), was begun at another time or by
    another server (a new cluster under an old name begins as the old one
    did), or is shorter than its archived copy (a file only grows)."""
    have = {f.name: f for f in archive.files}
    for f in listed:
        old = have.get(f.name)
        if old is not None and (old.start != f.start or f.size < old.size
                                or (old.first and f.first and old.first != f.first)
                                or (old.made and f.made and old.made != f.made)):
            return True
    return False


def to_fetch(archive: Archive, listed: list[Logged]) -> list[tuple[Logged, int]]:
    """(file, from byte) for what the archive lacks: new files whole, grown
    ones from where the archive ends."""
    have = {f.name: f.size for f in archive.files}
    return [(f, have.get(f.name, 0)) for f in listed if f.size > have.get(f.name, 0)]


def parse_moment(text: str, local: dt.tzinfo | None = None) -> dt.datetime:
    """An ISO 8601 moment; one without a zone is in this host's zone."""
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise PitrError(f"--at {text!r}: not a date and time (as 2026-11-26 14:05:00, "
                        "or with a zone: 2026-11-26T14:05:00+01:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=local) if local else at.astimezone()
    return at


def choose_backup(backups: list[BackupInfo], at: dt.datetime) -> BackupInfo:
    """The newest verified backup finished before the moment."""
    done = [b for b in backups if b.verified and _finished(b) <= at]
    if not done:
        raise PitrError(f"no good backup finished before {at.isoformat(timespec='seconds')}: "
                        "a restore starts from one (`hapair backup --list`)")
    return max(done, key=_finished)


def _finished(b: BackupInfo) -> dt.datetime:
    return dt.datetime.fromisoformat(b.taken_at) + dt.timedelta(seconds=b.took_s)


def choose_archive(archives: list[Archive], position: str, at: dt.datetime,
                   prefer: str = "") -> tuple[Archive, list[Logged]]:
    """(archive, its files from the one holding `position` on): an archive
    that begins at or before the backup's position and was fetched after the
    moment; the preferred node's (the primary's) first."""
    said = []
    for a in sorted(archives, key=lambda a: a.node != prefer):
        files = sorted(a.files, key=lambda f: f.name)
        if not files:
            said.append(f"{a.node}: nothing archived")
            continue
        if not a.fetched_at or dt.datetime.fromisoformat(a.fetched_at) < at:
            said.append(f"{a.node}: archived up to {a.fetched_at[:19] or 'never'}, before the "
                        "moment")
            continue
        starts = [f for f in files if f.begins_by(position)]
        if not starts:
            said.append(f"{a.node}: begins at {files[0].first or files[0].start or '?'}, "
                        f"after the backup's {position}")
            continue
        chain = files[files.index(starts[-1]):]
        numbers = [int(f.name.rsplit(".", 1)[-1]) for f in chain]
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            said.append(f"{a.node}: a file is missing between {chain[0].name} and "
                        f"{chain[-1].name}")
            continue
        return a, chain
    raise PitrError("no archive of binary logs covers the backup's position "
                    f"{position} to {at.isoformat(timespec='seconds')}: " + "; ".join(said))


def reach(backups: list[BackupInfo], archives: list[Archive]) -> str:
    """What a restore could go back to, for a person: from the oldest good
    backup an archive continues, to the newest fetch of such an archive."""
    spans = []
    for b in sorted((b for b in backups if b.verified), key=_finished):
        ends = []
        for a in archives:
            if not a.fetched_at:
                continue
            try:
                choose_archive([a], b.gtid, _finished(b))
            except PitrError:
                continue
            ends.append(a.fetched_at)
        if ends:
            spans.append((_finished(b).isoformat(timespec="seconds"), max(ends)[:19]))
    if not spans:
        return ("a restore can go back only to a backup's own moment: no archive of binary "
                "logs continues one (`hapair backup --binlogs`)")
    return (f"a restore can go back to any moment from {spans[0][0][:19]} (the oldest backup "
            f"the archive continues) to {max(e for _, e in spans)} (the last archiving)")
