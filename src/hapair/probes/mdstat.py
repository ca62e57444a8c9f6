"""/proc/mdstat: the kernel's software RAID arrays. Pure.

    md0 : active raid1 vdc[1](F) vdb[0]
          261120 blocks super 1.2 [2/1] [U_]
          [=====>...............]  recovery = 27.5% (71936/261120) finish=0.0min ...

The "[2/1]" is wanted/working devices; "(F)" a failed member, "(S)" a spare.
A recovery (a replaced disk being filled) or a resync shows its progress."""

from __future__ import annotations

import re
from dataclasses import dataclass

HEAD = re.compile(r"^(md\S+)\s*:\s*(\S+)\s+(?:\((?:auto-)?read-only\)\s+)?(\S+)?\s*(.*)$")
COUNTS = re.compile(r"\[(\d+)/(\d+)\]\s+\[([U_]+)\]")
MEMBER = re.compile(r"^([^\[]+)\[(\d+)\]((?:\([A-Z]\))*)$")
PROGRESS = re.compile(r"(recovery|resync|reshape|check|repair)\s*=\s*([\d.]+)%")


@dataclass(frozen=True)
class Member:
    name: str
    failed: bool
    spare: bool


@dataclass(frozen=True)
class Array:
    name: str
    state: str  # "active", "inactive"
    level: str  # "raid1"
    members: tuple[Member, ...]
    wanted: int  # devices the array is made of
    working: int
    action: str = ""  # "recovery", "resync", ... while one runs
    progress: float | None = None  # its percentage

    @property
    def degraded(self) -> bool:
        return self.state != "active" or self.working < self.wanted

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.members if m.failed)


def parse(text: str) -> list[Array]:
    """Every array in /proc/mdstat (none: an empty list)."""
    arrays: list[Array] = []
    for line in text.splitlines():
        head = HEAD.match(line.strip()) if line.startswith("md") else None
        if head is not None:
            name, state, level, rest = head.groups()
            members = tuple(m for m in (_member(w) for w in rest.split()) if m is not None)
            arrays.append(Array(name, state, level or "", members, len(members),
                                sum(not m.failed and not m.spare for m in members)))
            continue
        if not arrays:
            continue
        counts = COUNTS.search(line)
        if counts:
            a = arrays[-1]
            arrays[-1] = Array(a.name, a.state, a.level, a.members, int(counts.group(1)),
                               int(counts.group(2)))
        progress = PROGRESS.search(line)
        if progress:
            a = arrays[-1]
            arrays[-1] = Array(a.name, a.state, a.level, a.members, a.wanted, a.working,
                               progress.group(1), float(progress.group(2)))
    return arrays


def _member(word: str) -> Member | None:
    m = MEMBER.match(word)
    if m is None:
        return None
    flags = m.group(3)
    return Member(m.group(1), "(F)" in flags, "(S)" in flags)
