"""A systemd unit's state, in one probe: whether it runs and whether it
starts at boot. Pure.

    LoadState=loaded
    SubState=running
    UnitFileState=enabled

"Running" is pyinfra's own reading of SubState (a oneshot that stays is
"exited", a socket "listening"); "enabled" its reading of UnitFileState
("static": nothing to enable)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

RUNNING = frozenset({"running", "waiting", "exited", "listening", "mounted"})
ENABLED = frozenset({"enabled", "static"})


@dataclass(frozen=True)
class UnitState:
    loaded: str  # "loaded", "masked", "not-found"
    sub: str  # "running", "dead", "failed", "start" (a start under way)
    file: str  # "enabled", "disabled", "masked", "static", "" (no unit file)

    @property
    def running(self) -> bool:
        return self.sub in RUNNING

    @property
    def enabled(self) -> bool:
        return self.file in ENABLED


def state_command(unit: str) -> str:
    return ("systemctl show --property LoadState --property SubState --property UnitFileState "
            f"-- {shlex.quote(unit)}")


def parse_state(text: str) -> UnitState:
    values = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    return UnitState(loaded=values.get("LoadState", ""), sub=values.get("SubState", ""),
                     file=values.get("UnitFileState", ""))
