"""The node's bonds and RAID arrays, as the kernel reports them
(/proc/net/bonding/*, /proc/mdstat; parsers in probes/, read each cycle by
observe.hardware when the spec names them); what is wrong with them in
words; the alerts a change raises. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hapair.model.report import missing_problem
from hapair.probes import bonding, mdstat


@dataclass(frozen=True)
class Hardware:
    bonds: tuple[bonding.Bond, ...] = ()
    arrays: tuple[mdstat.Array, ...] = ()
    missing: tuple[str, ...] = ()  # named by the spec, not in the kernel


def bond_problem(b: bonding.Bond) -> str:
    if not b.carrying:
        return f"{b.name} has no active slave ({', '.join(b.failed) or 'none up'} down)"
    if b.degraded:
        active = f", active {b.active}" if b.active else ""
        return f"{b.name} degraded: {', '.join(b.failed)} down{active}"
    return ""


def array_problem(a: mdstat.Array) -> str:
    doing = f", {a.action} {a.progress:.1f}%" if a.action and a.progress is not None else ""
    if a.degraded:
        failed = f", {', '.join(a.failed)} failed" if a.failed else ""
        return f"{a.name} degraded [{a.wanted}/{a.working}]{failed}{doing}"
    return f"{a.name} {a.action} {a.progress:.1f}%" if doing and a.progress is not None else ""


def problems(hw: Hardware) -> dict[str, str]:
    """{bond or array: what is wrong} for each that is not whole."""
    found = {b.name: bond_problem(b) for b in hw.bonds}
    found |= {a.name: array_problem(a) for a in hw.arrays}
    found |= {name: missing_problem(name) for name in hw.missing}
    return {k: v for k, v in found.items() if v}


def link_problem(hw: Hardware, device: str) -> str:
    """The VIP's device, when it is a bond that carries nothing: this node may
    not hold the VIP."""
    return next((bond_problem(b) for b in hw.bonds if b.name == device and not b.carrying), "")


def _states(hw: Hardware) -> dict[str, tuple[str, str]]:
    """{name: (coarse state, words)} of what is not whole: a change of the
    coarse state (not of a rebuild's percentage) is news."""
    found = {b.name: ("down" if not b.carrying else "degraded", bond_problem(b))
             for b in hw.bonds if bond_problem(b)}
    found |= {a.name: ("degraded" if a.degraded else "syncing", array_problem(a))
              for a in hw.arrays if array_problem(a)}
    return found | {n: ("missing", missing_problem(n)) for n in hw.missing}


def alerts(before: Hardware | None, after: Hardware) -> list[tuple[str, str]]:
    """(event, detail) for each bond or array that became not whole, or worse
    ("degraded"), or whole again ("restored") since the last cycle."""
    old = _states(before) if before is not None else {}
    new = _states(after)
    return ([("degraded", why) for name, (state, why) in new.items()
             if old.get(name, ("", ""))[0] != state and state != "syncing"]
            + [("restored", f"{name} is whole again") for name in old if name not in new])


def to_status(hw: Hardware) -> dict[str, Any]:
    return {
        "bonds": [{"name": b.name, "mode": b.mode, "active": b.active,
                   "slaves": {s.name: s.up for s in b.slaves}, "problem": bond_problem(b)}
                  for b in hw.bonds],
        "arrays": [{"name": a.name, "level": a.level, "wanted": a.wanted,
                    "working": a.working, "failed": list(a.failed), "action": a.action,
                    "progress": a.progress, "problem": array_problem(a)} for a in hw.arrays],
        "hardware_missing": list(hw.missing)}
