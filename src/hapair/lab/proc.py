"""Finding the lab's machines' processes on the host, from /proc (no record
needed: this also finds what a crashed run left)."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: What runs a lab machine: a container's nspawn, a VM's QEMU.
RUNNERS = (b"systemd-nspawn", b"qemu-system-x86_64")


def machine_pids(under: Path) -> list[int]:
    """Running nspawn or QEMU processes of machines whose folder lies under this one."""
    needle = str(under).rstrip("/").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(RUNNERS) and any(
            a == needle or a.startswith(needle + b"/") for a in argv
        ):
            pids.append(int(entry))
    return pids


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie (dead, its parent has not
    reaped it: a drill that started a machine is its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def children(pid: int) -> list[int]:
    """A process's children as the host sees them (for an nspawn: the
    machine's init), none when it is gone."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []
