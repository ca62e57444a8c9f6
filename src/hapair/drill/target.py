"""What a drill acts on: the lab (its plan, its agents, the workload's
account), the one error a drill run fails with, a statement run by the
mariadb client on one of its nodes, and the cluster's roles as its agents
tell them (a wait until it has settled)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from hapair.lab import machine as m
from hapair.lab.plan import LabPlan
from hapair.ops.client import Agents
from hapair.ops.settled import settled

Say = Callable[[str], None]


class DrillError(Exception):
    pass


class CheckFailed(DrillError):
    """A run's own check failed (mail-failover's count), with the cluster
    settled: the run is failed, and the next run may start."""


@dataclass
class Lab:
    plan: LabPlan
    agents: Agents
    password: str  # the workload's roombook account
    database: str
    ca_file: str = ""  # the cluster CA (the web's HTTPS), when web.tls is on
    spec: str = ""  # the lab's spec file


def mariadb(lab: Lab, node: str, sql: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """sql through the mariadb client on node, in the lab's database (batch,
    no column names)."""
    return subprocess.run(m.exec_argv(lab.plan, lab.plan.machine(node),
                                      ["mariadb", "-N", "-B", lab.database, "-e", sql]),
                          capture_output=True, text=True, timeout=timeout)


def roles(agents: Agents) -> tuple[str | None, str | None, str]:
    """(primary, standby, why not settled) from the agents' statuses."""
    got = settled(agents.spec, {s.node: s.doc for s in agents.statuses()})
    return got.primary, got.standby, got.why


def settle(agents: Agents, timeout: float, say: Say) -> tuple[str, str, float]:
    started = time.monotonic()
    last = ""
    while True:
        primary, standby, why = roles(agents)
        if primary and standby and not why:
            return primary, standby, time.monotonic() - started
        if why != last:
            say(f"waiting for the cluster: {why}")
            last = why
        if time.monotonic() - started > timeout:
            raise DrillError(f"the cluster did not settle within {timeout:.0f}s: {why}")
        time.sleep(0.2)
