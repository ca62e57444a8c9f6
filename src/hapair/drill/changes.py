"""What an operator changes, as drill steps: the lab's spec with one setting
changed, applied to the live cluster under the booking load, then the
original applied back. Each apply rolls what its change needs (a reload on
both nodes, or restarts one node at a time behind a switchover): the drill
measures what the bookings pay for it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from hapair.ops.client import HOST_NETNS, enter_fd

Edit = Callable[[Any], None]  # changes a parsed spec (tomlkit) in place

APPLY_TIMEOUT_S = 600.0


def table(doc: Any, *path: str) -> Any:
    """The spec's table at path, made when the spec leaves it to defaults."""
    for name in path:
        if name not in doc:
            doc[name] = tomlkit.table()
        doc = doc[name]
    return doc


def _add(path: tuple[str, ...], key: str, step: int | float, default: int | float) -> Edit:
    def edit(doc: Any) -> None:
        t = table(doc, *path)
        t[key] = round(t.get(key, default) + step, 3)
    return edit


def _env(doc: Any) -> None:
    table(doc, "web", "env")["HAPAIR_DRILL_CHANGE"] = "changed"


@dataclass(frozen=True)
class Change:
    name: str
    what: str
    edit: Edit
    restarts: bool  # the primary owes a restart: the roll switches over first


CHANGES = (
    Change("apply-app-env", "an application environment value added", _env, True),
    Change("apply-workers", "the application's worker count, one more",
           _add(("web",), "workers", 1, 2), True),
    Change("apply-apache", "an Apache setting (web.limits.header_timeout_s, one more)",
           _add(("web", "limits"), "header_timeout_s", 1, 10), False),
    Change("apply-mariadb-dynamic", "MariaDB's semi-sync timeout (set on the running servers)",
           _add(("database",), "semi_sync_timeout_ms", -1, 4_294_967_295), False),
    Change("apply-mariadb-static", "MariaDB's replica threads, one more (a restart)",
           _add(("database",), "parallel_threads", 1, 4), True),
    Change("apply-keepalived", "keepalived's advert interval, 0.1 s to 0.12 s",
           _add(("timing",), "advert_interval_s", 0.02, 0.1), False),
    Change("apply-agent", "a setting only the agent reads (alerts.timeout_s, one more): its "
           "restart, in place on the primary", _add(("alerts",), "timeout_s", 1, 10.0), False),
)


def changed_text(original: str, change: Change) -> str:
    """The spec's text with the change made, comments and layout kept (pure)."""
    doc = tomlkit.parse(original)
    change.edit(doc)
    return tomlkit.dumps(doc)


def changed_path(spec: Path, change: Change) -> Path:
    """Beside the spec: paths inside it (the application's source) are
    relative to its folder."""
    return spec.with_name(f".{spec.stem}.{change.name}.toml")


def lab_apply(spec: Path) -> str:
    """`hapair lab apply SPEC`, as an operator runs it; its roll, in a line.
    From the host's network namespace (the drill itself runs in the lab's
    control point): the wheels are made there, where the package index is."""
    host = HOST_NETNS[0] if HOST_NETNS else None
    done = subprocess.run([sys.executable, "-m", "hapair", "lab", "apply", str(spec)],
                          capture_output=True, text=True, timeout=APPLY_TIMEOUT_S,
                          pass_fds=(host,) if host is not None else (),
                          preexec_fn=(lambda: enter_fd(host)) if host is not None else None)
    rolled = [line.strip().removeprefix("roll: ") for line in done.stdout.splitlines()
              if line.strip().startswith("roll: done")]
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise RuntimeError(f"apply of {spec.name} failed (exit {done.returncode}): "
                           + " / ".join(tail))
    return rolled[-1] if rolled else "nothing rolled"
