"""Reads keepalived's notify FIFO in a thread: the last state of our VRRP
instance, and a wake-up for the agent's loop on every transition.

The last state is kept beside the FIFO (``<fifo>.last``, in /run: gone with
a reboot, as keepalived's own state is), so a restarted agent starts from
it: keepalived says nothing until its next transition, and an agent that
published UNKNOWN meanwhile was taken by its standby for a primary that had
given up (on the pair lab, an interconnect cut right after the primary's
agent restarted became a failover)."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable

from hapair.agent.node import observe
from hapair.probes.keepalived import STATES, State, parse_line

log = logging.getLogger("hapair.agent")


class FifoReader:
    def __init__(self, path: str, on_change: Callable[[State], None]):
        self.path = path
        self.kept = f"{path}.last"
        self.state: State = self._last()
        self.on_change = on_change

    def _last(self) -> State:
        said = (observe.read_text(self.kept) or "").strip()
        return next((s for s in STATES if s == said), "UNKNOWN")

    def _keep(self, state: State) -> None:
        try:
            observe.write_if_changed(self.kept, state)
        except OSError as exc:
            log.warning("keeping keepalived's state in %s: %s", self.kept, exc)

    def start(self) -> None:
        threading.Thread(target=self._run, name="fifo", daemon=True).start()

    def _ensure(self) -> None:
        try:
            if stat.S_ISFIFO(os.stat(self.path).st_mode):
                return
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        os.mkfifo(self.path, 0o600)

    def _run(self) -> None:
        while True:
            try:
                self._ensure()
                # Blocks until keepalived opens it; EOF when keepalived stops.
                with open(self.path) as fifo:
                    for line in fifo:
                        t = parse_line(line)
                        if t is None or t.kind != "INSTANCE":
                            continue
                        log.info("keepalived: %s %s", t.name, t.state)
                        self.state = t.state
                        self._keep(t.state)
                        self.on_change(t.state)
            except OSError as exc:
                log.warning("keepalived FIFO %s: %s", self.path, exc)
            time.sleep(0.1)
