"""Finding the lab's machines' processes on the host, from /proc (no record
needed: this also finds what a crashed run left)."""

from __future__ import annotations

import os
import time
from pathlib import Path

# (A drill that started a machine is its parent: a zombie until reaped, gone.)
from hapair.probes.procs import gone

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


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False
