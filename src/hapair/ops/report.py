"""The cluster's state at a glance, from the agents' statuses (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from hapair import gtid
from hapair.agent.roles import Condition, Role
from hapair.agent.status import StatusDoc
from hapair.ops.client import NodeStatus


@dataclass(frozen=True)
class Summary:
    vip_holders: tuple[str, ...]
    writable: tuple[str, ...]
    problems: tuple[str, ...]
    hints: tuple[str, ...]


def summarize(statuses: list[NodeStatus]) -> Summary:
    up = [s.doc for s in statuses if s.doc is not None]
    holders = tuple(d.node for d in up if d.holds_vip)
    writable = tuple(d.node for d in up if d.writable)
    problems, hints = [], []
    for s in statuses:
        if s.doc is None:
            problems.append(f"{s.node}: {s.unreachable}")
        elif s.doc.problem:
            problems.append(f"{s.node}: {s.doc.reason}")
        if s.notes:
            problems.append(f"{s.node}: its status document differs ({'; '.join(s.notes)})")
    if len(writable) > 1:
        problems.append(f"two writable databases: {', '.join(writable)}")
    if len(holders) > 1:
        problems.append(f"the VIP is on {len(holders)} nodes: {', '.join(holders)}")
    if not writable:
        problems.append("no node accepts writes")
    if not holders:
        problems.append("no node holds the VIP")
    for d in up:
        if d.condition is Condition.STANDBY_LOST and d.role is Role.PRIMARY_PAUSED:
            hints.append(f"writes are paused on {d.node} because its standby is lost; if "
                         "that node is really down, `hapair degrade SPEC` lets it commit alone "
                         "(a failed standby then needs a rebuild)")
        if d.paused:
            hints.append(f"{d.node} is paused: no automatic failover (`hapair resume SPEC`)")
    witnessed = [d for d in up if d.witness]
    if witnessed and not any(d.witness_ok for d in witnessed):
        problems.append("no node reaches a majority of etcd (the witness and a node lost, or "
                        "etcd down): a lost node now stops writes")
    return Summary(holders, writable, tuple(problems), tuple(hints))


def witness_line(d: StatusDoc) -> str:
    """What the witness's etcd says, as this node sees it (one line)."""
    if not d.witness_ok:
        return f"{d.node} reaches no etcd majority: {d.witness_error or 'no answer yet'}"
    leader = (f"leader key: {d.witness_leader} (epoch {d.witness_epoch}, changed "
              f"{d.witness_key_age_s:.1f}s ago)" if d.witness_leader else "leader key: free")
    return f"{d.node} reaches a majority; {leader}; complete: {d.witness_complete or 'no node'}"


def lag(status: StatusDoc, primary: StatusDoc | None) -> str:
    if primary is None or status is primary or not status.db_up:
        return ""
    try:
        n = gtid.behind(status.gtid_slave_pos, primary.gtid_binlog_pos)
    except ValueError:
        return "?"
    return f"{n} tx"
