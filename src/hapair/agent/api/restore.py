"""Point-in-time recovery on the node's side (`hapair backup --binlogs`,
`hapair restore`).

GET /binlogs lists the binary logs with the GTID state each begins at;
GET /binlogs/NAME?from=N sends one from byte N (the archive fetches what is
new). POST /restore takes a backup (mbstream: the prepared files and the
replay of the binary logs up to the chosen moment) into a file, then, as a
long action beside the loop: the data replaced (the old kept aside, as a
rebuild does), the replay applied, replication forgotten, and a new epoch
above every epoch the cluster has seen, naming this node. The agents do the
rest as after any failover: the peer, whose data is now ahead of the
restored history, is rebuilt from this node, which opens for writes."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hapair import binlog
from hapair.agent.core import command_rules as rules
from hapair.agent.core import events as ev
from hapair.agent.node import rebuild
from hapair.model.roles import Role
from hapair.paths import STATE_DIR
from hapair.probes.mariadb import META_SCHEMA as META
from hapair.xbstream import REPLAY

if TYPE_CHECKING:
    from hapair.agent.core.config import AgentConfig
    from hapair.agent.core.view import View
    from hapair.agent.node.db import Database
    from hapair.agent.node.tasks import TaskRunner

log = logging.getLogger("hapair.agent")


class Restorable(Protocol):
    """What receiving a restore reads and touches of the agent."""

    cfg: AgentConfig
    @property
    def view(self) -> View | None: ...

    db: Database
    datadir: str
    tasks: TaskRunner

    def record(self, event: ev.Event) -> None: ...

    def alert(self, event: str, detail: str) -> None: ...

    def save_intent(self) -> str: ...


INBOX = Path(STATE_DIR) / "restore.xbstream"
NAME = re.compile(r"^[A-Za-z0-9_.-]+\.[0-9]{6}$")
GTID = re.compile(r"^[0-9]+-[0-9]+-[0-9]+$")
CHUNK = 1 << 20


def _mariadb(sql: str) -> str:
    r = subprocess.run(["mariadb", "--user=root", "-N", "-B", "-e", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"mariadb: {r.stderr.strip()[-200:]}")
    return r.stdout


def parse_binary_logs(text: str) -> list[tuple[str, int]]:
    """SHOW BINARY LOGS (-N -B): "name<TAB>size" per line."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and NAME.match(parts[0]) and parts[1].isdigit():
            out.append((parts[0], int(parts[1])))
    return out


def parse_events(text: str) -> tuple[str, str]:
    """SHOW BINLOG EVENTS IN ... LIMIT 10 (-N -B): (the GTID state the file
    begins at, from its Gtid_list event "[0-1-5]"; the GTID of its first
    transaction, "BEGIN GTID 0-1-6"), "" for none. A rebuilt node's first
    file begins at "[]": its first transaction says where it really starts."""
    start, first = "", ""
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 6:
            continue
        if parts[2] == "Gtid_list":
            start = parts[5].strip().strip("[]").replace(" ", "")
        elif parts[2] == "Gtid" and not first:
            first = next((w for w in parts[5].split() if GTID.match(w)), "")
    return start, first


def binlogs(datadir: str) -> list[dict[str, object]]:
    """Each binary log with where it begins: the first events of all of them
    in one call (the archive asks every few seconds); each row names its file.
    "made": the file's identity (binlog.identity), which tells a file begun
    again under an old name from the one archived."""
    listed = parse_binary_logs(_mariadb("SHOW BINARY LOGS"))
    events = _mariadb("".join(f"SHOW BINLOG EVENTS IN '{name}' LIMIT 10;"
                              for name, _ in listed)) if listed else ""
    rows: dict[str, list[str]] = {}
    for line in events.splitlines():
        rows.setdefault(line.split("\t", 1)[0], []).append(line)
    out: list[dict[str, object]] = []
    for name, size in listed:
        start, first = parse_events("\n".join(rows.get(name, [])))
        out.append({"name": name, "size": size, "start": start, "first": first,
                    "made": binlog.file_identity(Path(datadir) / name)})
    return out


def send_binlog(handler: BaseHTTPRequestHandler, datadir: str, name: str, start: int) -> None:
    listed = dict(parse_binary_logs(_mariadb("SHOW BINARY LOGS")))
    path = Path(datadir) / name
    if name not in listed or not path.is_file():
        handler.send_error(404, "no such binary log")
        return
    with path.open("rb") as f:
        f.seek(start)
        size = max(0, path.stat().st_size - start)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        left = size
        while left > 0:
            data = f.read(min(CHUNK, left))
            if not data:
                break
            handler.wfile.write(data)
            left -= len(data)


def receive(handler: BaseHTTPRequestHandler, agent: Restorable) -> tuple[int, dict[str, object]]:
    """The restore stream into a file first (a cut transfer touches nothing),
    then the restore as a long action. Refused on a writable node."""
    try:
        length = int(handler.headers.get("Content-Length") or 0)
        above = int(handler.headers.get("X-Hapair-Epoch-Above") or 0)
    except ValueError:
        handler.close_connection = True
        return 400, {"error": "Content-Length and X-Hapair-Epoch-Above are numbers"}
    why = rules.restore(agent.view, agent.cfg.node)
    if why:
        discard(handler)  # read first: over TLS an answer to an unread body is lost
        return 409, {"error": why}
    INBOX.parent.mkdir(parents=True, exist_ok=True)
    INBOX.unlink(missing_ok=True)
    # Made 0600 by the open itself: never a moment in which another user
    # could open the whole database (an open descriptor outlives a chmod).
    fd = os.open(INBOX, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        left = length
        while left > 0:
            data = handler.rfile.read(min(CHUNK, left))
            if not data:
                return 400, {"error": f"the stream ended {left} bytes early"}
            f.write(data)
            left -= len(data)
    if not agent.tasks.start(Role.REBUILDING, "restoring from a backup",
                             lambda: _restore(agent, above),
                             lambda exc: log.error("the restore failed: %s", exc)):
        return 409, {"error": "a long action is under way on this node: try again"}
    return 202, {"restoring": agent.cfg.node}


def discard(handler: BaseHTTPRequestHandler, at_most: int = 1 << 40) -> None:
    """Read the request's body and drop it (up to at_most bytes)."""
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        return
    if length > at_most:
        return
    while length > 0:
        data = handler.rfile.read(min(CHUNK, length))
        if not data:
            return
        length -= len(data)


def _restore(agent: Restorable, above: int) -> None:
    log.warning("restoring from a backup: it replaces this node's data (the old is kept aside)")
    with INBOX.open("rb") as stream:
        position = rebuild.restore(stream, agent.datadir, keep=REPLAY)
    INBOX.unlink(missing_ok=True)
    rebuild.start_script_done()  # the peer's rebuild streams from here next
    db = agent.db
    db.wait_for("the database to start", lambda s: True, 60)
    db.execute("STOP SLAVE", timeout=10)
    db.execute("RESET SLAVE ALL")
    db.execute("SET GLOBAL gtid_slave_pos = %s", (position,))
    replay = rebuild.WORK.parent / REPLAY
    started = time.monotonic()
    with replay.open("rb") as sql:
        r = subprocess.run(["mariadb", "--user=root", "--binary-mode"], stdin=sql,
                           capture_output=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"the replay failed: {r.stderr.decode(errors='replace')[-300:]}")
    replay.unlink(missing_ok=True)
    state = db.probe()
    db.execute(f"UPDATE {META}.epoch SET epoch = GREATEST(epoch, %s) + 1, "  # noqa: S608
               "primary_node = %s, changed_at = NOW(3) WHERE id = 1", (above, agent.cfg.node))
    agent.record(ev.Restored())
    agent.save_intent()
    log.warning("restored: the backup at GTID %s and its binary logs replayed to GTID %s "
                "(%.1fs); a new epoch names this node the primary", position,
                state.gtid_binlog_pos, time.monotonic() - started)
    agent.alert("restore", f"restored to GTID {state.gtid_binlog_pos}")

