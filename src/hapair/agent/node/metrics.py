"""Prometheus metrics of one node's agent."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hapair import gtid
from hapair.agent.core.actions import Action, Decision
from hapair.agent.core.view import PATHS, View
from hapair.model.roles import Role


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.role = Gauge("hapair_role", "1 for this node's current role", ["role"], registry=r)
        self.read_only = Gauge("hapair_read_only", "the local database's read_only", registry=r)
        self.eligible = Gauge("hapair_eligible", "1 if this node may hold the VIP", registry=r)
        self.vip = Gauge("hapair_holds_vip", "1 if the VIP is on this node", registry=r)
        self.epoch = Gauge("hapair_epoch", "promotion epoch in the local data", registry=r)
        self.behind = Gauge("hapair_replication_behind_transactions",
                            "transactions received but not applied", registry=r)
        self.complete = Gauge("hapair_complete", "1 if this node holds every confirmed "
                              "transaction", registry=r)
        self.peer = Gauge("hapair_peer_reachable", "the peer's agent answers on this path",
                          ["path"], registry=r)
        self.slave_up = Gauge("hapair_bond_slave_up", "1 if the bond's slave has link",
                              ["bond", "slave"], registry=r)
        self.carrying = Gauge("hapair_bond_carrying", "1 if the bond passes traffic", ["bond"],
                              registry=r)
        self.md_degraded = Gauge("hapair_md_degraded", "1 if the array lacks a device",
                                 ["array"], registry=r)
        self.md_sync = Gauge("hapair_md_sync_percent", "a recovery or resync's progress "
                             "(100: none under way)", ["array"], registry=r)
        self.actions = Counter("hapair_actions", "actions carried out", ["action"], registry=r)
        self.fences = Counter("hapair_fence_attempts", "fence attempts on the peer's device",
                              ["result"], registry=r)
        self.failures = Counter("hapair_action_failures", "actions that failed", ["action"],
                                registry=r)
        self.self_fence = Gauge("hapair_self_fence_seconds", "how long the last self-fence "
                                "took to close the database, by path (spec/lease.py)", ["by"],
                                registry=r)
        self.self_fence_budget = Gauge("hapair_self_fence_budget_seconds", "what the timing "
                                       "inequality allows that path", ["by"], registry=r)

    def observe(self, v: View, d: Decision) -> None:
        for role in Role:
            self.role.labels(role.value).set(1 if d.role is role else 0)
        self.read_only.set(1 if v.db.read_only else 0)
        self.eligible.set(1 if d.eligible else 0)
        self.vip.set(1 if v.holds_vip else 0)
        self.epoch.set(v.db.epoch)
        self.complete.set(1 if v.memory.complete else 0)
        self.behind.set(gtid.behind(v.db.gtid_slave_pos, v.db.slave.gtid_io_pos)
                        if v.db.slave.configured else 0)
        for path in PATHS:
            self.peer.labels(path).set(1 if path in v.peer.paths else 0)
        for b in v.hardware.bonds:
            self.carrying.labels(b.name).set(1 if b.carrying else 0)
            for s in b.slaves:
                self.slave_up.labels(b.name, s.name).set(1 if s.up else 0)
        for a in v.hardware.arrays:
            self.md_degraded.labels(a.name).set(1 if a.degraded else 0)
            self.md_sync.labels(a.name).set(a.progress if a.progress is not None else 100)

    def acted(self, action: Action, ok: bool) -> None:
        name = type(action).__name__
        (self.actions if ok else self.failures).labels(name).inc()

    def self_fenced(self, by: str, took_s: float, budget_s: float) -> None:
        self.self_fence.labels(by).set(took_s)
        self.self_fence_budget.labels(by).set(budget_s)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
