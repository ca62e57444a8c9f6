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


@dataclass(frozen=True)
class Since:
    """A unit's state and when it entered it (the system's monotonic clock,
    seconds: Python's time.monotonic() on the same host)."""

    state: str  # "active", "activating", "deactivating", "reloading", "failed", ...
    at: float

    def settling(self, now: float, grace: float) -> bool:
        """Starting, stopping or reloading, or (re)started less than grace ago."""
        return self.state in ("activating", "deactivating", "reloading") or (
            self.state == "active" and now - self.at < grace)


def since_command(unit: str) -> list[str]:
    return ["systemctl", "show", "--property", "ActiveState", "--property",
            "StateChangeTimestampMonotonic", "--", unit]


def parse_since(text: str) -> Since:
    values = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    raw = values.get("StateChangeTimestampMonotonic", "")
    return Since(values.get("ActiveState", ""), int(raw) / 1e6 if raw.isdigit() else 0.0)
