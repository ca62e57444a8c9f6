"""GET /backup: this node's database as mariadb-backup's xbstream, streamed
to the asker (a rebuilding peer, `hapair backup`), never leaving
mariadb-backup running when the reader goes away. GET /files: the static
files' volume as a gzipped tar."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from hapair.agent.node.db import Database, DBError

log = logging.getLogger("hapair.agent")

BACKUP_IDLE_S = 60.0  # a rebuild's reader may pause longer than other clients


# mariadb-backup's BACKUP STAGE BLOCK_COMMIT, while it waits for its lock,
# holds every commit of this server back behind it (a waiting lock request
# goes before later ones). Behind a statement that never ends it waited for
# good: a schema upgrade's ALTER TABLE stuck on the lease watch's event, and
# the primary committed nothing for 7 minutes while it said it was fine. So
# it may wait this long; then the backup is stopped (the rebuild tries again).
BLOCK_COMMIT_WAIT_S = 1.0
WATCH_S = 0.1
BLOCKED_SQL = ("SELECT ID AS id, TIME_MS AS ms FROM information_schema.PROCESSLIST "
               "WHERE INFO LIKE 'BACKUP STAGE BLOCK_COMMIT%' AND STATE LIKE 'Waiting for%'")


def blocking_too_long(rows: list[dict[str, Any]], limit_s: float) -> list[int]:
    """The BLOCK_COMMIT requests that have waited longer than limit_s (pure)."""
    return [int(r["id"]) for r in rows if float(r.get("ms") or 0) > limit_s * 1000]


def watch_block_commit(db: Database, proc: subprocess.Popen[bytes], done: threading.Event,
                       limit_s: float = BLOCK_COMMIT_WAIT_S) -> None:
    """Until done: a BLOCK_COMMIT of this backup's waiting longer than
    limit_s is killed, and the backup with it."""
    try:
        while not done.wait(WATCH_S):
            ids = blocking_too_long(db.rows(BLOCKED_SQL), limit_s)
            if ids:
                log.warning("backup stopped: its BACKUP STAGE BLOCK_COMMIT waited over %gs "
                            "for its lock, holding every commit here back", limit_s)
                proc.kill()
                for i in ids:
                    db.execute("KILL QUERY %s", (i,))
                return
    except DBError as exc:
        log.warning("the backup's commit block is not watched: %s", exc)
    finally:
        db.close()


def send(handler: BaseHTTPRequestHandler, db: Database) -> None:
    """Stream mariadb-backup's xbstream as the answer to the handler's request
    (db: a connection of its own, for watch_block_commit)."""
    tool = shutil.which("mariadb-backup") or "mariadb-backup"
    log.info("streaming a backup to %s", handler.headers.get("X-Hapair-Node", "?"))
    handler.connection.settimeout(BACKUP_IDLE_S)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [tool, "--backup", "--stream=xbstream", "--target-dir=/tmp", "--user=root"],
            stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        done = threading.Event()
        threading.Thread(target=watch_block_commit, args=(db, proc, done),
                         name="backup-watch", daemon=True).start()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.end_headers()
        try:
            shutil.copyfileobj(proc.stdout, handler.wfile, 1 << 20)
        except OSError as exc:
            # Never leave mariadb-backup holding its locks and connection.
            log.warning("backup stream cut (%s): stopping mariadb-backup", exc)
            proc.kill()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        done.set()
        if code != 0:
            errors.seek(0)
            log.warning("mariadb-backup ended with %d: %s", code,
                        errors.read().decode(errors="replace").strip()[-200:])
        handler.close_connection = True


def send_files(handler: BaseHTTPRequestHandler, root: str) -> None:
    """The folder ``root`` (the mounted volume) as a tar.gz stream; what it
    cannot read is left out and logged."""
    handler.connection.settimeout(BACKUP_IDLE_S)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.end_headers()
    try:
        with tarfile.open(fileobj=handler.wfile, mode="w|gz") as tar:
            tar.add(root, arcname="static")
    except OSError as exc:
        log.warning("static files stream cut (%s)", exc)
    handler.close_connection = True
