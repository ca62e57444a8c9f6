"""Faults for drills, as primitives: power, links, partitions, processes."""

from __future__ import annotations

from pathlib import Path

from hapair.lab import machine as m
from hapair.lab import net
from hapair.lab.plan import LabPlan
from hapair.lab.sh import LabError, run

NETWORKS = ("interconnect", "public")


def power_cut(plan: LabPlan, node: str) -> None:
    """SIGKILL the machine's PID 1: every process dies at once, nothing is flushed."""
    m.stop(plan, plan.machine(node), clean=False)


def shutdown(plan: LabPlan, node: str) -> None:
    m.stop(plan, plan.machine(node), clean=True)


def start(plan: LabPlan, node: str, key: Path) -> float:
    """Boot a stopped machine on the disk it had; seconds until SSH answers."""
    machine = plan.machine(node)
    if m.nspawn_pid(plan, machine) is not None:
        raise LabError(f"{node} is already running")
    m.mount_overlay(m.paths(plan, machine))
    m.boot(plan, machine)
    for link in machine.links:
        net.attach(plan, link.outside, link.bridge)
    return m.wait_ssh(plan, machine, key)


def link(plan: LabPlan, node: str, network: str, up: bool) -> None:
    if network not in NETWORKS:
        raise LabError(f"unknown network {network!r}: one of {', '.join(NETWORKS)}")
    net.set_link(plan, plan.link(node, network).outside, up)


def partition(plan: LabPlan, a: str, b: str, networks: tuple[str, ...] = NETWORKS) -> None:
    """Silently drop every frame between a and b on the given networks (both ways)."""
    pairs = [(plan.link(a, n).outside, plan.link(b, n).outside) for n in networks]
    net.apply_partition(plan, pairs)


def heal(plan: LabPlan) -> None:
    net.heal_partition(plan)


def kill(plan: LabPlan, node: str, process: str, signal: str = "KILL") -> int:
    """Signal every process of that name in the machine; how many there were."""
    machine = plan.machine(node)
    found = run(m.exec_argv(plan, machine, ["pgrep", "-c", "-x", process]), check=False)
    count = int(found.stdout.strip() or 0)
    if count:
        run(m.exec_argv(plan, machine, ["pkill", f"-{signal}", "-x", process]), check=False)
    return count
