"""Apache's reload on a node (its unit's ExecReload, render/systemd.py):
Debian's graceful reload, without its second of deafness.

On `apachectl graceful` the parent re-reads its configuration and tells the
children to finish what they serve; they stop listening at once. mpm_event
starts the new generation only as the parent reaps an old child or at its
next look, once a second: the old children exit within tens of
milliseconds, most often after the parent has gone to sleep, and until it
wakes no process accepts. Measured on a bare Apache 2.4 (mpm_event, 8
keep-alive clients): every reload, clients' reconnections waited 0.99-1.0 s;
in the lab, `apply-apache`'s bookings waited up to 1.13 s.

Here, once every child has exited and none of the new generation has
started, the parent is woken with an ungraceful restart (SIGHUP): nothing
is left for it to cut, and it starts the whole generation at once. A child
alive that was not there before means the parent is already starting them:
nothing more is sent then, nor after WAKE_WITHIN_S (its own look comes a
second after the signal, at the earliest)."""

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
    if any(pid not in before for pid in alive):
        return "done"  # the parent is starting the new generation itself
    return "wait" if alive else "wake"


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
        match verdict(live_children(pid), before):
            case "done":
                return 0
            case "wake":
                os.kill(pid, signal.SIGHUP)
                print(f"apache reload: the old children had gone {waited:.3f}s after the graceful "
                      "signal: the parent woken to start the new ones (SIGHUP: none to cut)",
                      file=sys.stderr)
                return 0
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
