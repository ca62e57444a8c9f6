"""Whether the cluster is settled: one writable primary holding the VIP, the
other node a complete replica caught up with it over the interconnect (pure,
from the agents' statuses). The drills start a run only then, and a rolling
apply touches a node only then."""

from __future__ import annotations

from dataclasses import dataclass

from hapair import gtid
from hapair.model.roles import Role
from hapair.model.status import StatusDoc
from hapair.spec.models import ClusterSpec

# A planned switchover onto a replica waits, before it opens, for the
# replica to apply what it has received; with thousands still to apply (a
# node rebooted under load and catching up: 6,171 in the demo lab's rolling
# reboot) the VIP had moved and every booking was refused for 3.2 s. A wait
# that precedes a switchover (the reboot's, the roll's) holds out until the
# backlog would take a fraction of a second (about 950 applied a second
# there, while the load went on).
APPLY_BACKLOG = 300


@dataclass(frozen=True)
class Layout:
    primary: str | None
    standby: str | None
    why: str  # "" when settled: what is not, in words

    @property
    def ok(self) -> bool:
        return bool(self.primary and self.standby and not self.why)


def settled(spec: ClusterSpec, docs: dict[str, StatusDoc | None],
            services: bool = False, applied: bool = True, maintenance: bool = False,
            backlog: int | None = None) -> Layout:
    """maintenance: a replica in maintenance (out of failover, so not
    eligible) counts as settled too: the wait after a reboot;
    services: also ask that each node's application and Apache answer, and
    that every worker of the application has loaded it;
    applied: that the replica has applied all the primary wrote (an idle
    cluster). Under load it never quite has: complete (it has received
    every confirmed transaction, and applies them before it would open) is
    what a switchover needs, with at most `backlog` of them still to apply
    (APPLY_BACKLOG, for a wait before a switchover)."""
    writable = [n for n, d in docs.items() if d is not None and d.writable]
    if len(writable) != 1:
        return Layout(None, None, f"{len(writable)} writable nodes")
    primary = writable[0]
    standby = next(n for n in docs if n != primary)
    p, s = docs[primary], docs[standby]
    assert p is not None
    if s is None:
        return Layout(primary, None, f"{standby}'s agent unreachable")
    problems = []
    if not p.holds_vip:
        problems.append(f"{primary} does not hold the VIP")
    if p.role is not Role.PRIMARY:
        problems.append(f"{primary} is {p.role}")
    if not s.replicating or not s.complete or not (s.eligible or maintenance and s.maintenance):
        problems.append(f"{standby} is {s.reason}")
    elif applied and not gtid.contains(s.gtid_slave_pos, p.gtid_binlog_pos):
        problems.append(f"{standby} is behind")
    elif backlog is not None and (left := gtid.behind(s.gtid_slave_pos, s.gtid_io_pos)) > backlog:
        problems.append(f"{standby} has {left} transactions still to apply")
    elif s.master_host != str(spec.node(primary).interconnect):
        # Back on the interconnect first (it returns there after it has
        # answered steadily): nothing starts from the other path.
        problems.append(f"{standby} replicates over the public network")
    if services:
        problems += [f"{d.node}: {d.health_problem or 'the application or Apache is down'}"
                     for d in (p, s) if not (d.app_ok and d.apache_ok)]
        problems += [f"{d.node}: {d.app_loading}" for d in (p, s) if d.app_loading]
    return Layout(primary, standby, "; ".join(problems))
