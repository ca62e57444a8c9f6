"""Faults for drills, as primitives: power, links, partitions, processes."""

from __future__ import annotations

import contextlib
import time
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


def partition(plan: LabPlan, a: str, b: str,
              networks: tuple[str, ...] = NETWORKS) -> list[str]:
    """Silently drop every frame between a and b on the given networks (both
    ways); the networks both are on, of those (the witness is on one only).
    It replaces any partition in place."""
    return cut_all(plan, [(a, b, networks)])[0]


def cut_all(plan: LabPlan, cuts: list[tuple[str, str, tuple[str, ...]]]) -> list[list[str]]:
    """Several partitions at once (a node cut from its peer and the witness),
    replacing any in place; the networks cut for each pair."""
    pairs, shared_of = [], []
    for a, b, networks in cuts:
        shared = [n for n in networks
                  if n in {x.network for x in plan.machine(a).links}
                  and n in {x.network for x in plan.machine(b).links}]
        if not shared:
            raise LabError(f"{a} and {b} share none of the networks {', '.join(networks)}")
        pairs += [(plan.link(a, n).outside, plan.link(b, n).outside) for n in shared]
        shared_of.append(shared)
    net.apply_partition(plan, pairs)
    return shared_of


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


FREEZER = Path("/sys/fs/cgroup/freezer")


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def freezer_group(plan: LabPlan, node: str) -> Path:
    return FREEZER / f"hapair-{plan.cluster}-{node}"


def freeze(plan: LabPlan, node: str) -> int:
    """Stop every process of the machine at once, as a hypervisor's pause
    would (the cgroup freezer); nspawn itself, the 'hypervisor', runs on.
    How many processes were frozen."""
    group = freezer_group(plan, node)
    group.mkdir(exist_ok=True)
    leader = m.leader_pid(plan, plan.machine(node))
    moved: set[int] = set()
    while True:  # until no process forks past us
        new = _descendants(leader) - moved
        if not new:
            break
        for pid in new:
            with contextlib.suppress(OSError):  # gone meanwhile
                (group / "cgroup.procs").write_text(str(pid))
        moved |= new
    (group / "freezer.state").write_text("FROZEN")
    return len(moved)


def thaw(plan: LabPlan, node: str) -> None:
    """Resume a frozen machine; its processes go back to the root group."""
    group = freezer_group(plan, node)
    if not group.exists():
        return
    (group / "freezer.state").write_text("THAWED")
    deadline = time.monotonic() + 5
    while True:
        for tid in (group / "tasks").read_text().split():  # thread by thread
            with contextlib.suppress(OSError):
                (FREEZER / "tasks").write_text(tid)
        try:
            group.rmdir()  # busy a moment longer while exiting tasks leave it
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise LabError(f"could not remove the freezer group {group}: {exc}") from None
        time.sleep(0.05)


def bmc(plan: LabPlan, node: str, up: bool) -> int:
    """Take a node's simulated BMC off the network (its fence device stops
    answering), or bring it back. How many BMCs changed."""
    from hapair.lab import bmc as bmcs
    from hapair.lab.lifecycle import files_of
    from hapair.secrets import load_secrets
    from hapair.spec import load_spec

    files = files_of(plan)
    if not up:
        return bmcs.stop(Path(plan.state_dir), node)
    if bmcs.pids(Path(plan.state_dir), node):
        return 0
    spec = load_spec(files.spec).spec
    passwords = {k: v.get_secret_value()
                 for k, v in load_secrets(files.secrets).fence_passwords.items()}
    return len(bmcs.start(plan, spec, passwords, files.spec, only=node))

