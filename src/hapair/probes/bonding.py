"""/proc/net/bonding/BOND: the kernel's own account of a bond. Pure.

    Bonding Mode: fault-tolerance (active-backup)
    Currently Active Slave: eth0
    MII Status: up
    ...
    Slave Interface: eth0
    MII Status: up
    Link Failure Count: 0

A load-balancing bond (balance-rr) has no active slave: every slave that is
up carries traffic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slave:
    name: str
    up: bool
    failures: int  # link failures since the bond was made


@dataclass(frozen=True)
class Bond:
    name: str
    mode: str  # as the kernel says it: "fault-tolerance (active-backup)"
    up: bool  # the bond's own MII status
    active: str  # the active slave ("" for none, or a mode without one)
    slaves: tuple[Slave, ...]

    @property
    def active_backup(self) -> bool:
        return "active-backup" in self.mode

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slaves if not s.up)

    @property
    def carrying(self) -> bool:
        """Traffic can pass: an active slave that is up (active-backup), or
        any slave up (the other modes)."""
        if not self.up:
            return False
        if self.active_backup:
            return any(s.name == self.active and s.up for s in self.slaves)
        return any(s.up for s in self.slaves)

    @property
    def degraded(self) -> bool:
        return bool(self.failed)


def parse(name: str, text: str) -> Bond:
    """One bond's file. Raises ValueError on text that is not one."""
    head: dict[str, str] = {}
    slaves: list[Slave] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Slave Interface":
            if current is not None:
                slaves.append(_slave(current))
            current = {"name": value}
        elif current is not None:
            current.setdefault(key, value)
        else:
            head.setdefault(key, value)
    if current is not None:
        slaves.append(_slave(current))
    if "Bonding Mode" not in head:
        raise ValueError(f"{name}: not a bonding status (no 'Bonding Mode' line)")
    active = head.get("Currently Active Slave", "")
    return Bond(name, head["Bonding Mode"], head.get("MII Status") == "up",
                "" if active == "None" else active, tuple(slaves))


def _slave(fields: dict[str, str]) -> Slave:
    count = fields.get("Link Failure Count", "0")
    return Slave(fields["name"], fields.get("MII Status") == "up",
                 int(count) if count.isdigit() else 0)
