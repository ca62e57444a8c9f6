"""The operator's intent that survives a restart of the agent (pause,
degrade and maintenance): written atomically (temporary file, fsync, rename), read safely (a
missing, empty, corrupt or wrong-typed file is one log line and the safe
default: not paused, not degraded; never a crash loop)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hapair.agent")


@dataclass(frozen=True)
class Intent:
    paused: bool = False
    degraded: bool = False
    maintenance: bool = False  # out of failover (a reboot, work on the node)


class IntentStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> Intent:
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return Intent()
        except OSError as exc:
            log.warning("cannot read the saved intent %s (%s): not paused, not degraded",
                        self.path, exc)
            return Intent()
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError(f"a JSON object was expected, not {type(data).__name__}")
            values = {k: data.get(k, False) for k in ("paused", "degraded", "maintenance")}
            wrong = [k for k, v in values.items() if not isinstance(v, bool)]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} must be true or false")
        except ValueError as exc:
            log.warning("the saved intent %s is unreadable (%s): not paused, not degraded",
                        self.path, str(exc)[:120])
            return Intent()
        return Intent(**values)

    def save(self, intent: Intent) -> None:
        """Raises OSError (a full disk, say); the file is then as it was."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        data = json.dumps({"paused": intent.paused, "degraded": intent.degraded,
                           "maintenance": intent.maintenance}).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        dirfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
