"""What a drill acts on: the lab (its plan, its agents, the workload's
account), the one error a drill run fails with, and a statement run by the
mariadb client on one of its nodes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from hapair.lab import machine as m
from hapair.lab.plan import LabPlan
from hapair.ops.client import Agents


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
