"""Apache's reload on a node (its unit's ExecReload, render/systemd.py):
Debian's graceful reload, without its second of deafness.

On `apachectl graceful` the parent re-reads its configuration and tells the
children to finish what they serve; they stop listening at once. mpm_event
starts the new generation only as the parent reaps an old child or at its
next look, once a second: the old children exit within tens of
milliseconds, most often after the parent has gone to sleep, and until it
wakes no process accepts, or only the few it started. Measured on a bare Apache 2.4 (mpm_event, 8
keep-alive clients): every reload, clients' reconnections waited 0.99-1.0 s;
in the lab, `apply-apache`'s bookings waited up to 1.13 s.

Here, once every old child has exited, the parent is sent a second
graceful signal if it has not started the whole generation again (it
starts one child per old one it reaped before it went to sleep: 2 of 16 in
the lab): it wakes, reaps the old ones and starts a child for each at once.
A graceful signal cuts nothing: the children it started finish what they
serve. Nothing is sent once the generation is whole, nor after
WAKE_WITHIN_S (the parent's own look comes a second after it went to sleep,
at the earliest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from typing import Literal

#: Debian's reload (its configtest first: a bad configuration signals nothing).
GRACEFUL = ("/usr/sbin/apachectl", "graceful")
PID_FILE = "/run/apache2/apache2.pid"
#: How long after the graceful signal a wake may be sent: well before the
#: parent's own look, a second after it went to sleep.
WAKE_WITHIN_S = 0.6
POLL_S = 0.005

Verdict = Literal["wait", "wake", "done"]


def stat_state(stat: str) -> str:
    """A process's state letter from its /proc/PID/stat line ("Z": a zombie,
    exited, its parent has not reaped it). The name field may hold spaces
    and parentheses: the state follows the last ')'."""
    return stat.rpartition(")")[2].split()[0]


def verdict(alive: Collection[int], before: Collection[int]) -> Verdict:
    """What to do, given the parent's live children now and before the signal."""
    if any(pid in before for pid in alive):
        return "wait"  # the old children are still finishing
    return "done" if len(alive) >= len(before) else "wake"


def live_children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        return []
    alive = []
    for kid in kids:
        try:
            with open(f"/proc/{kid}/stat") as f:
                if stat_state(f.read()) != "Z":
                    alive.append(kid)
        except (OSError, IndexError):
            continue
    return alive


def main(argv: list[str] | None = None) -> int:
    graceful = argv or list(GRACEFUL)
    pid_file = os.environ.get("APACHE_PID_FILE", PID_FILE)
    try:
        with open(pid_file) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pid = 0
    before = set(live_children(pid)) if pid else set()
    rc = subprocess.run(graceful).returncode
    if rc != 0 or not before:
        return rc  # apachectl said why; or nothing ran to wait for
    sent = time.monotonic()
    while (waited := time.monotonic() - sent) < WAKE_WITHIN_S:
        alive = live_children(pid)
        match verdict(alive, before):
            case "done":
                print(f"apache reload: the parent started its {len(before)} new children "
                      f"itself ({waited:.3f}s)", file=sys.stderr)
                return 0
            case "wake":
                os.kill(pid, signal.SIGUSR1)
                print(f"apache reload: the old children had gone {waited:.3f}s after the graceful "
                      f"signal and {len(alive)} of {len(before)} new ones had "
                      "started: the parent woken (a second graceful signal) to start the rest",
                      file=sys.stderr)
                return 0
        time.sleep(POLL_S)
    print(f"apache reload: old children still finishing after {WAKE_WITHIN_S}s: the parent "
          "starts the new ones as they end", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
