"""Apache's reload on a node (its unit's ExecReload, render/systemd.py):
Debian's graceful reload, without its second of deafness.

On `apachectl graceful` the parent re-reads its configuration and tells the
children to finish what they serve; they stop listening at once. mpm_event
starts the new generation only as the parent reaps an old child, or at its
next look, once a second. When the old children end after the parent has
gone to sleep, no process accepts until it wakes: on the demo lab,
`apply-apache`'s clients waited 1.16 s in 2 runs of 5 (0.36-0.41 s in the
others); on a bare Apache 2.4 (8 keep-alive clients), 0.99-1.0 s.

Here, once every old child has exited with none of the new generation
started, the parent is sent a second graceful signal: it wakes, reaps the
old children and starts one for each at once (a graceful signal cuts
nothing, and there is no child yet to signal). Once any new child runs,
nothing is sent: it accepts, and the parent starts the rest at its next
look. A second signal then made things worse in the lab: it told the new
children to go too, on a busy primary the parent replaced them only as they
ended, and the clients reconnected twice (`apply-apache`, longest wait
0.52-0.74 s in 4 runs). Nothing is sent after WAKE_WITHIN_S either (the
parent's own look comes a second after it went to sleep, at the earliest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from typing import Literal

from hapair.probes.procs import children, gone

#: Debian's reload (its configtest first: a bad configuration signals nothing).
GRACEFUL = ("/usr/sbin/apachectl", "graceful")
PID_FILE = "/run/apache2/apache2.pid"
#: How long after the graceful signal a wake may be sent: well before the
#: parent's own look, a second after it went to sleep.
WAKE_WITHIN_S = 0.6
POLL_S = 0.005

Verdict = Literal["wait", "wake", "done"]


def verdict(alive: Collection[int], before: Collection[int]) -> Verdict:
    """What to do, given the parent's live children now and before the signal."""
    if any(pid in before for pid in alive):
        return "wait"  # the old children are still finishing
    return "done" if alive else "wake"


def live_children(pid: int) -> list[int]:
    return [kid for kid in children(pid) if not gone(kid)]


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
                print(f"apache reload: {len(alive)} of {len(before)} new children accepting "
                      f"{waited:.3f}s after the graceful signal: the parent starts the rest",
                      file=sys.stderr)
                return 0
            case "wake":
                os.kill(pid, signal.SIGUSR1)
                print(f"apache reload: the old children had gone {waited:.3f}s after the graceful "
                      "signal and none of the new ones had started: the parent woken (a second "
                      "graceful signal) to start them", file=sys.stderr)
                return 0
        time.sleep(POLL_S)
    print(f"apache reload: old children still finishing after {WAKE_WITHIN_S}s: the parent "
          "starts the new ones as they end", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
