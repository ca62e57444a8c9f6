"""The cluster's state at a glance, from the agents' statuses (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hapair import gtid
from hapair.model.roles import Condition, Role
from hapair.model.status import NodeStatus, StatusDoc


def missing_problem(name: str) -> str:
    """A bond or array the spec names that the node's kernel does not have."""
    return f"{name} is named by the spec but the kernel has none"


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
        if s.doc is not None:  # its bonds and RAID array (agent/core/hardware.py)
            problems += [f"{s.node}: {x['problem']}" for x in (*s.doc.bonds, *s.doc.arrays)
                         if x.get("problem")]
            problems += [f"{s.node}: {missing_problem(name)}" for name in s.doc.hardware_missing]
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
        if d.pending:
            hints.append(f"{d.node} owes what a change applied there calls for: "
                         f"{', '.join(d.pending)} (`hapair apply SPEC` rolls it)")
        if d.maintenance:
            hints.append(f"{d.node} is in maintenance: out of failover, it will not take over "
                         f"(`hapair maintenance SPEC {d.node} off`)")
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


COLUMNS = ("node", "role", "read_only", "epoch", "GTID", "lag", "semi-sync", "app", "peer via")


@dataclass(frozen=True)
class Row:
    """One node's line of the status table (the CLI's and the page's)."""

    node: str
    role: str  # with a long action under way
    role_ok: bool
    read_only: str = ""
    epoch: str = ""
    gtid: str = ""
    lag: str = ""
    semi: str = ""
    app: str = ""  # "ok" or what is wrong
    app_ok: bool = True
    peer_via: str = ""  # the paths its peer answers on ("" none)
    unreachable: str = ""  # its agent did not answer: why

    def cells(self) -> tuple[str, ...]:
        return (self.node, self.role, self.read_only, self.epoch, self.gtid, self.lag,
                self.semi, self.app, self.peer_via or "none")


def rows(statuses: list[NodeStatus], summary: Summary) -> list[Row]:
    docs = [s.doc for s in statuses if s.doc is not None]
    primary = next((d for d in docs if d.node in summary.writable), None)
    out = []
    for s in statuses:
        d = s.doc
        if d is None:
            out.append(Row(s.node, "no status", False, unreachable=s.unreachable))
            continue
        semi = (f"waits for {d.semi_clients}" if d.semi_master_on else
                "replica" if d.replicating else "off")
        out.append(Row(
            d.node, d.role.value + (f" ({d.task}, {d.task_s:.0f}s)" if d.task else "")
            + (", maintenance" if d.maintenance else ""),
            not d.problem, "yes" if d.read_only else "no", f"{d.epoch} ({d.epoch_primary})",
            d.gtid_binlog_pos, lag(d, primary), semi,
            (f"ok ({d.app_loading})" if d.app_loading else "ok") if d.app_ok and d.apache_ok
            else d.health_problem or "down",
            d.app_ok and d.apache_ok, ", ".join(d.peer_paths)))
    return out


def fence_lines(docs: list[StatusDoc], peer_of: dict[str, str]) -> list[str]:
    return [f"{d.node} checks {peer_of.get(d.node, 'its peer')}'s device: "
            f"{d.fence_check or 'not yet'}" + (f"; last fence: {d.fence_note}" if d.fence_note
                                               else "")
            for d in docs if d.fence_check or d.fence_note]


def decisions(docs: list[StatusDoc], n: int = 8) -> list[tuple[float, str, dict[str, Any]]]:
    """Both nodes' last n decisions, oldest first: (time, node, entry)."""
    return sorted(((e["at"], d.node, e) for d in docs for e in d.history),
                  key=lambda x: x[0])[-n:]


def promotions(docs: list[StatusDoc]) -> list[tuple[float, str, dict[str, Any]]]:
    """Every remembered promotion, newest first: (time, node, entry)."""
    return _newest(docs, "promotions")


def self_fences(docs: list[StatusDoc]) -> list[tuple[float, str, dict[str, Any]]]:
    """Every remembered self-fence, newest first: (time, node, entry)."""
    return _newest(docs, "self_fences")


def self_fence_line(node: str, e: dict[str, Any]) -> str:
    over = ", OVER ITS BUDGET" if e["took_s"] > e["budget_s"] else ""
    return (f"{node}'s {e['by']} closed its database {e['took_s']:.3f}s {e['what']} "
            f"(budget {e['budget_s']:.2f}s{over})")


def _newest(docs: list[StatusDoc], field: str) -> list[tuple[float, str, dict[str, Any]]]:
    return sorted(((e["at"], d.node, e) for d in docs for e in getattr(d, field)),
                  key=lambda x: -x[0])
