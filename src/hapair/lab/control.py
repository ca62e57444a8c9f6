"""What the lab does from its control point, for the `hapair lab` commands,
the drills, the benchmarks and the tests alike: the nodes' wheels built
here, `hapair apply` run as an operator would, the ports the host forwards
(the VIP's, each agent's status page), and which machine holds the VIP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hapair.deploy import wheels
from hapair.lab import lifecycle
from hapair.lab import machine as m
from hapair.lab.plan import FORWARD_PAGE_PORT, FORWARD_PORT, FORWARD_TLS_PORT, LabPlan
from hapair.lab.sh import LabError, in_netns, run
from hapair.probes import python
from hapair.probes.python import Target
from hapair.spec.models import ClusterSpec, Node

#: Where the lab keeps the nodes' wheels (HAPAIR_WHEEL_CACHE: elsewhere, as
#: a benchmark does that runs an older tree too).
WHEEL_CACHE = Path(os.environ.get("HAPAIR_WHEEL_CACHE", "/var/cache/hapair/wheels"))


def forwarded(cluster: ClusterSpec) -> tuple[int, int]:
    """(the host's port, the VIP's) of the lab's forwarder."""
    base = cluster.lab.ports
    return (base + FORWARD_PORT, 80) if cluster.web.tls == "off" else \
        (base + FORWARD_TLS_PORT, 443)


def pages(cluster: ClusterSpec) -> list[tuple[int, Node]]:
    """(the host's port, the node) of each agent's status page, forwarded
    from the control point (the operators' network)."""
    base = cluster.lab.ports + FORWARD_PAGE_PORT
    return [(base + i, n) for i, n in enumerate(cluster.nodes, start=1)]


def build_wheels(cluster: ClusterSpec, spec: Path, plan: LabPlan, say: lifecycle.Progress,
                 on_node: tuple[str, ...] = ()) -> Path:
    """The nodes' wheels, for each kind of Python they run, made here (the
    control point, where apply runs, has no route to the package index) and
    kept where apply finds them."""
    base = WHEEL_CACHE / cluster.name
    targets: dict[Target, list[str]] = {}
    for node in cluster.nodes:
        got = run(m.exec_argv(plan, plan.machine(node.name), ["sh", "-c", python.STATE_COMMAND]),
                  check=False)
        try:
            targets.setdefault(python.parse(got.stdout), []).append(node.name)
        except python.ProbeError as exc:
            raise LabError(f"{node.name}: {exc}") from None
    for target, names in sorted(targets.items()):
        say(f"wheels: the application and hapair for {', '.join(names)} ({target})")
        wheels.build_for(cluster, spec, base, target, on_node)
    return base


def run_apply(plan: LabPlan, spec: Path, house: Path, files: lifecycle.LabFiles,
              *extra: str) -> int:
    """`hapair apply` as an operator would run it, from the lab's control point."""
    argv = in_netns(plan.control.name, [
        sys.executable, "-m", "hapair", "apply", str(spec.resolve()),
        "--secrets", str(files.secrets), "--ssh-key", str(files.key),
        "--known-hosts", str(files.known_hosts),  # the keys the lab made: no first contact
        "--wheelhouse", str(house), *extra,
    ])
    return subprocess.run(argv).returncode


def vip_holders(plan: LabPlan, vip: str) -> list[str]:
    holders = []
    for machine in plan.machines:
        if m.pid_of(plan, machine) is None:
            continue
        addrs = run(m.exec_argv(plan, machine, ["ip", "-br", "-4", "addr"]), check=False).stdout
        if f" {vip}/" in addrs:
            holders.append(machine.name)
    return holders
