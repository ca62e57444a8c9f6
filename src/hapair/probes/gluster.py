"""GlusterFS probes: the trusted pool and a volume's state and options."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


def state_command(volume: str) -> str:
    return (
        "gluster pool list 2>&1 || echo --down--; echo --volume--; "
        f"gluster volume info {shlex.quote(volume)} 2>&1 || true"
    )


@dataclass(frozen=True)
class GlusterState:
    up: bool
    peers: frozenset[str] = field(default_factory=frozenset)  # hostnames, localhost excluded
    connected: frozenset[str] = field(default_factory=frozenset)
    volume_exists: bool = False
    volume_started: bool = False
    bricks: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)


def parse_pool_list(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """`gluster pool list`: UUID, Hostname, State columns."""
    peers, connected = set(), set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[0] == "UUID" or parts[1] == "localhost":
            continue
        peers.add(parts[1])
        if parts[2] == "Connected":
            connected.add(parts[1])
    return frozenset(peers), frozenset(connected)


def parse_state(output: str) -> GlusterState:
    pool, _, info = output.partition("--volume--")
    if "--down--" in pool:
        return GlusterState(up=False)
    peers, connected = parse_pool_list(pool)
    bricks: list[str] = []
    options: dict[str, str] = {}
    status = ""
    in_options = False
    for raw in info.splitlines():
        line = raw.strip()
        if line.startswith("Status:"):
            status = line.split(":", 1)[1].strip()
        elif line.startswith("Brick") and ":" in line and not line.startswith("Bricks"):
            bricks.append(line.split(":", 1)[1].strip().removesuffix(" (arbiter)"))
        elif line == "Options Reconfigured:":
            in_options = True
        elif in_options and ": " in line:
            key, value = line.split(": ", 1)
            options[key] = value
    return GlusterState(
        up=True,
        peers=peers,
        connected=connected,
        volume_exists=bool(status),
        volume_started=status == "Started",
        bricks=tuple(bricks),
        options=options,
    )
