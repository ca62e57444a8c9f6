"""Faults for drills, as primitives: power, links, partitions, processes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from hapair.lab import container, net, vm
from hapair.lab import machine as m
from hapair.lab.plan import CONTAINER, VM, LabPlan, Machine
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
    if m.pid_of(plan, machine) is not None:
        raise LabError(f"{node} is already running")
    m.boot(plan, machine)
    if machine.kind == CONTAINER:  # nspawn makes the veths; a VM's taps are made first
        for link in machine.links:
            net.attach(plan, link.outside, link.bridge)
    return m.wait_ssh(plan, machine, key)


def link(plan: LabPlan, node: str, network: str, up: bool) -> None:
    """The node's whole link to a network: its one port, or every member of its bond."""
    if network not in NETWORKS:
        raise LabError(f"unknown network {network!r}: one of {', '.join(NETWORKS)}")
    machine = plan.machine(node)
    for x in plan.links(node, network):
        if machine.kind == VM:  # the guest sees its cables go (a tap down would not show)
            vm.nic(plan, machine, x.inside, up)
        else:
            net.set_link(plan, x.outside, up)


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
        pairs += [(x.outside, y.outside) for n in shared
                  for x in plan.links(a, n) for y in plan.links(b, n)]
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


ACKS_TABLE = "hapair_drill_acks"


def drop_to(plan: LabPlan, node: str, address: str, port: int) -> None:
    """Drop every packet the node sends to address:port (nftables in the
    machine): a replica's connection to its primary still receives the
    events, while its acknowledgements (and TCP's own) are lost."""
    machine = plan.machine(node)
    undrop(plan, node)
    for command in (f"add table inet {ACKS_TABLE}",
                    f"add chain inet {ACKS_TABLE} out {{ type filter hook output priority 0 ; }}",
                    f"add rule inet {ACKS_TABLE} out ip daddr {address} tcp dport {port} drop"):
        run(m.exec_argv(plan, machine, ["nft", *command.split()]))


def undrop(plan: LabPlan, node: str) -> None:
    run(m.exec_argv(plan, plan.machine(node), ["nft", "delete", "table", "inet", ACKS_TABLE]),
        check=False)


HOLD_UNIT = "hapair-drill-hold-commits"


def hold_commits(plan: LabPlan, node: str) -> str:
    """An operator's `FLUSH TABLES WITH READ LOCK` on the node's MariaDB, held
    (a transient unit of its own) until `release_commits`: every commit of the
    server waits behind it, while the server answers every probe."""
    done = run(m.exec_argv(plan, plan.machine(node), [
        "systemd-run", f"--unit={HOLD_UNIT}", "--collect", "mariadb", "-e",
        "FLUSH TABLES WITH READ LOCK; DO SLEEP(3600)"]), check=False)
    return f"FLUSH TABLES WITH READ LOCK held: exit {done.returncode}"


def release_commits(plan: LabPlan, node: str) -> None:
    run(m.exec_argv(plan, plan.machine(node), ["systemctl", "stop", HOLD_UNIT]), check=False)


def restart(plan: LabPlan, node: str, unit: str) -> str:
    """`systemctl restart UNIT` in the machine, as an operator would; its exit."""
    done = run(m.exec_argv(plan, plan.machine(node), ["systemctl", "restart", unit]),
               check=False)
    return f"systemctl restart {unit}: exit {done.returncode}"


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
    How many processes were frozen (a VM: QEMU stops its vCPUs, 1)."""
    machine = plan.machine(node)
    if machine.kind == VM:
        vm.pause(plan, machine, True)
        return 1
    group = freezer_group(plan, node)
    group.mkdir(exist_ok=True)
    leader = container.leader_pid(plan, machine)
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
    machine = plan.machine(node)
    if machine.kind == VM:
        vm.pause(plan, machine, False)
        return
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


def _vm(plan: LabPlan, node: str, fault: str) -> Machine:
    machine = plan.machine(node)
    if machine.kind != VM:
        raise LabError(f"{fault}: {node} is a container on this host's kernel; NIC and disk "
                       "faults need a lab VM (a spec with bonds or RAID)")
    return machine


def nic(plan: LabPlan, node: str, name: str, up: bool) -> str:
    """Pull or plug one NIC's virtual cable (eth0, ...): a bond's member fails
    alone; the tap it is."""
    return vm.nic(plan, _vm(plan, node, "nic-up" if up else "nic-down"), name, up)


def disk_fail(plan: LabPlan, node: str, disk: str) -> None:
    """A data disk drops off the bus (QEMU unplugs it): its array runs degraded."""
    vm.disk_pull(plan, _vm(plan, node, "disk-fail"), disk)


def disk_replace(plan: LabPlan, node: str, disk: str, array: str) -> None:
    """A blank disk in the failed one's place, added to the array as an operator
    would (mdadm --add): the array rebuilds onto it."""
    machine = _vm(plan, node, "disk-replace")
    vm.disk_plug_new(plan, machine, disk)
    script = (f"udevadm settle; i=0; while [ ! -b {disk} ] && [ $i -lt 100 ]; do sleep 0.1; "
              f"i=$((i+1)); done; mdadm --manage {array} --remove failed detached >/dev/null 2>&1;"
              f" mdadm --manage {array} --add {disk}")
    result = run(m.exec_argv(plan, machine, ["sh", "-c", script]), check=False, timeout=60)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip()
        raise LabError(f"disk-replace: {node} would not add {disk} to {array}: {said}")


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



def reboot(plan: LabPlan, node: str, key: Path) -> float:
    """A clean reboot, as `systemctl reboot` on a server (a container's own
    reboot ends its nspawn, which nothing here would start again): a clean
    shutdown, then a boot on the same disk; seconds until SSH answers."""
    shutdown(plan, node)
    return start(plan, node, key)


def rebooter(plan: LabPlan) -> Callable[[str], None]:
    """`reboot` for a node by name (what `hapair reboot` and the drills call)."""
    from hapair.lab.lifecycle import files_of

    def by_the_lab(node: str) -> None:
        reboot(plan, node, files_of(plan).key)
    return by_the_lab
