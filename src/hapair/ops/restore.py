"""A point-in-time restore, through the agents (the CLI's `hapair restore`
and the lab's tests): the newest good backup before the moment, the binary
logs archived since replayed up to it, on one node; the agents then rebuild
the other from it, as after a failover. Nothing is destroyed: each node's
replaced data is kept aside.

`prepare` finds what to restore and makes the replay (nothing changes in
the cluster); `carry_out` stops writes, sends the stream and waits until
the cluster has settled. Each raises RestoreError with the one line the
operator reads; the caller says it and chooses the exit."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hapair.model.roles import Role
from hapair.model.status import NodeStatus
from hapair.ops import archive
from hapair.ops.backup import BackupInfo, good, listing, size
from hapair.ops.client import AgentError, Agents
from hapair.ops.pitr import PitrError, choose_archive, choose_backup
from hapair.xbstream import REPLAY

Say = Callable[[str], None]
SETTLE_S = 300.0


class RestoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class Plan:
    """What a restore will do, before anything changes."""

    moment: dt.datetime
    statuses: list[NodeStatus]
    backup: BackupInfo
    folder: Path  # the backup's
    logs_node: str  # whose archived binary logs are replayed
    log_files: list[str]
    target: str  # the node restored; its peer is rebuilt from it
    writable: list[str]  # running primaries, whose writes the restore stops


def target_of(statuses: list[NodeStatus], writable: list[str]) -> str | None:
    """The standby (its database up, not writable); else the primary (pure)."""
    up = [s.node for s in statuses if s.doc is not None and s.doc.db_up]
    return next((n for n in up if n not in writable), up[0] if up else None)


def plan(agents: Agents, moment: dt.datetime, root: Path, say: Say) -> Plan:
    """Each answering node's binary logs archived first, then the backup and
    the logs chosen, and the node to restore."""
    cluster = agents.spec
    try:
        statuses = agents.statuses()
        for s in statuses:
            if s.doc is not None:
                fetched, got = archive.archive_node(agents, cluster.node(s.node), root, say)
                say(f"binary logs of {s.node}: {fetched} file(s), {size(got)} new")
        entries = [(p, i) for p, i in listing(root, cluster.name) if good((p, i))]
        chosen = choose_backup([i for _, i in entries if i is not None], moment)
        folder = next(p for p, i in entries if i == chosen)
        primary = next((s.node for s in statuses if s.doc and s.doc.role is Role.PRIMARY), "")
        logs, files = choose_archive(archive.archives(root, [n.name for n in cluster.nodes]),
                                     chosen.gtid, moment, prefer=primary)
    except (PitrError, AgentError, OSError) as exc:
        raise RestoreError(f"nothing restored: {exc}") from None
    writable = [s.node for s in statuses if s.doc and s.doc.db_up and not s.doc.read_only]
    target = target_of(statuses, writable)
    if target is None:
        raise RestoreError("nothing restored: no node's agent answers with its database up")
    return Plan(moment, statuses, chosen, folder, logs.node, [f.name for f in files], target,
                writable)


def make_replay(root: Path, p: Plan, into: Path) -> int:
    """mariadb-binlog from after the backup's position to the moment (in this
    host's zone, as mariadb-binlog reads it), into a file; the transactions."""
    folder = archive.folder_of(root, p.logs_node)
    local = p.moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    try:
        with into.open("wb") as f:
            os.chmod(into, 0o600)
            # Not strict: a backup whose position is the archive's last
            # transaction has nothing to replay (strict, that is an error).
            r = subprocess.run(["mariadb-binlog", "--skip-gtid-strict-mode",
                                f"--start-position={p.backup.gtid}",
                                f"--stop-datetime={local}",
                                *(str(folder / n) for n in p.log_files)],
                               stdout=f, stderr=subprocess.PIPE, timeout=600)
        if r.returncode != 0:
            raise RestoreError("nothing restored: mariadb-binlog: "
                               f"{r.stderr.decode(errors='replace')[-300:]}")
        with into.open("rb") as f:
            return sum(1 for line in f
                       if line.startswith(b"/*M!100001 SET @@session.gtid_seq_no"))
    except (OSError, subprocess.SubprocessError) as exc:
        raise RestoreError(f"nothing restored: {exc}") from None


def carry_out(agents: Agents, p: Plan, replay: Path, tmp: Path, say: Say) -> None:
    """The stream first (a failure there leaves the cluster as it was), then
    the pause, the writes stopped, the upload, and the wait."""
    try:
        _carry_out(agents, p, replay, tmp, say)
    except (AgentError, OSError, RuntimeError) as exc:
        raise RestoreError(f"the restore stopped: {exc}; `hapair status` shows where the "
                           "cluster is, `hapair resume` undoes the pause") from None


def _carry_out(agents: Agents, p: Plan, replay: Path, tmp: Path, say: Say) -> None:
    cluster = agents.spec
    above = max((s.doc.epoch for s in p.statuses if s.doc is not None), default=0)
    answering = [s.node for s in p.statuses if s.doc is not None]
    stream, stage = tmp / "restore.xbstream", tmp / "stage"
    # Beside the backups: the stream is made of hard links to the backup's files.
    shutil.copytree(p.folder / "db", stage, copy_function=os.link)
    shutil.copy2(replay, stage / REPLAY)
    names = sorted(str(f.relative_to(stage)) for f in stage.rglob("*") if f.is_file())
    with stream.open("wb") as f:
        r = subprocess.run(["mbstream", "-c", *names], cwd=stage, stdout=f,
                           stderr=subprocess.PIPE, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"mbstream: {r.stderr.decode(errors='replace')[-300:]}")
    for name in answering:
        agents.post(cluster.node(name), "/pause")
    say(f"paused: {', '.join(answering)} (no automatic role change)")
    for name in p.writable:
        agents.post(cluster.node(name), "/fence", {"by": "restore"})
        say(f"{name}: writes stopped (read_only=ON)")
    say(f"sending the backup and the replay to {p.target} "
        f"({stream.stat().st_size // 1_000_000} MB)")
    with stream.open("rb") as sent:
        agents.upload(cluster.node(p.target), "/restore", sent, stream.stat().st_size,
                      {"X-Hapair-Epoch-Above": str(above)})
    _wait(agents, p.target, above, answering, say)


def _wait(agents: Agents, target: str, above: int, answering: list[str], say: Say) -> None:
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
            say(f"{target}: restored, epoch {t.epoch} names it the primary")
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
            say(f"waiting: {now}")
            said = now
    raise RuntimeError(f"the cluster did not settle within {SETTLE_S:.0f}s")
