"""mariadb-backup's stream (xbstream), as the agent's rebuild and the
operator's backup and restore read it: unpacked through mbstream, its GTID
position, and the one file a restore stream carries beside the data."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import IO

REPLAY = "hapair-replay.sql"  # the replay's name inside the restore stream


def binlog_gtid(info: str) -> str:
    """The backup's binlog_info: "mariadb-bin.000003<TAB>1234<TAB>0-1-55"."""
    parts = info.split()
    return parts[2] if len(parts) >= 3 else ""


# Where mariadb-backup writes the backup's position: MariaDB 10.x (Debian 12)
# kept xtrabackup's name; 11.x (Debian 13) has its own.
BINLOG_INFO = ("xtrabackup_binlog_info", "mariadb_backup_binlog_info")


def backup_gtid(folder: Path) -> str:
    """The GTID position of an unpacked backup, whichever name its version gave
    the file; an error when it has none (an incomplete stream)."""
    for name in BINLOG_INFO:
        if (folder / name).exists():
            return binlog_gtid((folder / name).read_text())
    raise RuntimeError(f"the backup stream was incomplete (no {' or '.join(BINLOG_INFO)})")


def unpack(stream: IO[bytes], into: Path) -> None:
    """The xbstream through mbstream. Copied here, not handed over as a file
    descriptor: the HTTP client may hold the stream's first bytes in its buffer."""
    proc = subprocess.Popen(["mbstream", "-x", "-C", str(into)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        shutil.copyfileobj(stream, proc.stdin, 1 << 20)
    except BrokenPipeError:
        pass  # mbstream stopped reading: its own words below say why
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait(timeout=600) != 0:
        raise RuntimeError(f"mbstream failed: {err.strip()[-300:]}")
    backup_gtid(into)  # the stream was whole
