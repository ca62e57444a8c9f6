"""The cluster's state at a glance, from the agents' statuses (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hapair.agent import gtid


@dataclass(frozen=True)
class Summary:
    vip_holders: tuple[str, ...]
    writable: tuple[str, ...]
    problems: tuple[str, ...]
    hints: tuple[str, ...]


def summarize(statuses: list[dict[str, Any]]) -> Summary:
    up = [s for s in statuses if "unreachable" not in s]
    holders = tuple(s["node"] for s in up if s.get("holds_vip"))
    writable = tuple(s["node"] for s in up if s.get("db_up") and not s.get("read_only"))
    problems, hints = [], []
    for s in statuses:
        if "unreachable" in s:
            problems.append(f"{s['node']}: agent unreachable ({s['unreachable']})")
        elif s.get("problem"):
            problems.append(f"{s['node']}: {s.get('reason', '')}")
    if len(writable) > 1:
        problems.append(f"two writable databases: {', '.join(writable)}")
    if len(holders) > 1:
        problems.append(f"the VIP is on {len(holders)} nodes: {', '.join(holders)}")
    if not writable:
        problems.append("no node accepts writes")
    if not holders:
        problems.append("no node holds the VIP")
    for s in up:
        if s.get("role") == "primary (writes paused)" and "degrade" in str(s.get("reason", "")):
            hints.append(f"writes are paused on {s['node']} because its standby is lost; if "
                         "that node is really down, `hapair degrade SPEC` lets it commit alone "
                         "(a failed standby then needs a rebuild)")
        if s.get("paused"):
            hints.append(f"{s['node']} is paused: no automatic failover (`hapair resume SPEC`)")
    return Summary(holders, writable, tuple(problems), tuple(hints))


def lag(status: dict[str, Any], primary: dict[str, Any] | None) -> str:
    if primary is None or status is primary or not status.get("db_up"):
        return ""
    try:
        n = gtid.behind(str(status.get("gtid_slave_pos", "")),
                        str(primary.get("gtid_binlog_pos", "")))
    except ValueError:
        return "?"
    return f"{n} tx"
