"""Rebuild this node from the primary: its data replaced by a fresh
mariadb-backup of the primary, never patched. The old data directory is kept
aside (the newest two), so nothing is destroyed."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO

from hapair.paths import REBUILD_WORK, REPLACED_DATA
from hapair.xbstream import backup_gtid, unpack

log = logging.getLogger("hapair.agent")

WORK = Path(REBUILD_WORK)
KEPT = Path(REPLACED_DATA)
DEBIAN_START = "/etc/mysql/debian-start"


def _run(*argv: str) -> None:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.strip()[-300:]}")


def restore(stream: IO[bytes], datadir: str, keep: str = "") -> str:
    """Unpack and prepare a backup stream, put it in place of ``datadir`` with
    mariadb stopped, start it again. Returns the backup's GTID position.
    ``keep``: a file of the stream that is not data, moved beside WORK first."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    unpack(stream, WORK)
    if keep and (WORK / keep).exists():
        shutil.move(str(WORK / keep), str(WORK.parent / keep))
    _run("mariadb-backup", "--prepare", f"--target-dir={WORK}")
    position = backup_gtid(WORK)
    _run("systemctl", "stop", "mariadb")
    KEPT.mkdir(parents=True, exist_ok=True)
    aside = KEPT / time.strftime("%Y%m%dT%H%M%S")
    data = Path(datadir)
    aside.mkdir()
    for item in data.iterdir():
        shutil.move(str(item), aside / item.name)
    for old in sorted(KEPT.iterdir())[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    _run("mariadb-backup", "--move-back", f"--target-dir={WORK}", f"--datadir={datadir}")
    _run("chown", "-R", "mysql:mysql", datadir)
    mark_upgraded(datadir)
    _run("systemctl", "start", "mariadb")
    shutil.rmtree(WORK, ignore_errors=True)
    log.info("rebuilt the data directory from the primary's backup at GTID %s; the old data "
             "is kept in %s", position, aside)
    return position


VERSION = re.compile(r"\b(\d+\.\d+\.\d+-MariaDB)")


def upgrade_info(backup_info: str, server_version: str) -> str | None:
    """What mysql_upgrade_info must say so that Debian's start script does
    not upgrade the system tables of a restored data directory (pure): the
    version that the backup's server and this one both run, as
    mariadb-upgrade writes it; None if they differ (then it must run).

    Run after every restore, that upgrade's ALTER TABLE of mysql.event
    waited for good on the lease watch's event (a loop that never ends), and
    a backup taken from that node next waited behind it with every commit of
    the primary held back (7 minutes without a booking in a drill)."""
    server = next((line.split("=", 1)[1] for line in backup_info.splitlines()
                   if line.strip().startswith("server_version")), "")
    ours, theirs = VERSION.search(server_version), VERSION.search(server)
    if ours is None or theirs is None or ours.group(1) != theirs.group(1):
        return None
    return ours.group(1) + "\n"


def mark_upgraded(datadir: str) -> None:
    """mysql_upgrade_info written for a restored data directory of this
    server's version (see upgrade_info); left alone otherwise."""
    info = Path(datadir) / "xtrabackup_info"
    version = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True,
                             check=False).stdout
    text = upgrade_info(info.read_text() if info.exists() else "", version)
    if text is None:
        log.info("the restored data came from another MariaDB version: Debian's start "
                 "script upgrades its system tables")
        return
    target = Path(datadir) / "mysql_upgrade_info"
    target.write_text(text)
    shutil.chown(target, "mysql", "mysql")


def start_script_done(within: float = 30.0) -> None:
    """Debian's start script (`ExecStartPost`) goes on in the background: a
    full mysql_upgrade on a data directory from another version's backup
    (mark_upgraded spares one of the same version), then a check of the
    root accounts. A backup streamed from this node meanwhile came out
    without its binary log position (seen: the first rebuild from a freshly
    restored node failed, and once more after waiting only for the upgrade's
    mysql_upgrade_info): a restored node, the source of the next rebuild, waits
    until the script is done. A rebuilt replica need not: no one backs up
    from it at once, and its return to replicating is not delayed."""
    if not Path(DEBIAN_START).exists():
        return
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and subprocess.run(
            ["pgrep", "-f", DEBIAN_START], capture_output=True).returncode == 0:
        time.sleep(0.2)
