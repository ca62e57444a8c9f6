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
from http.server import BaseHTTPRequestHandler

log = logging.getLogger("hapair.agent")

BACKUP_IDLE_S = 60.0  # a rebuild's reader may pause longer than other clients


def send(handler: BaseHTTPRequestHandler) -> None:
    """Stream mariadb-backup's xbstream as the answer to the handler's request."""
    tool = shutil.which("mariadb-backup") or "mariadb-backup"
    log.info("streaming a backup to %s", handler.headers.get("X-Hapair-Node", "?"))
    handler.connection.settimeout(BACKUP_IDLE_S)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [tool, "--backup", "--stream=xbstream", "--target-dir=/tmp", "--user=root"],
            stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
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
