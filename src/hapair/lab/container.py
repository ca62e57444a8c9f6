"""Lab machines that share the host's kernel: systemd-nspawn booting an
overlay of the host's own root, or of a Debian release's root built with
debootstrap (lab/rootfs.py).

Each machine has its own upper layer (its disk: /etc, /var, what apply
installs) over the lower root, its own systemd, and links into the lab's
bridges. Over the host's root, packages installed on the host appear in
every machine."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from hapair.lab.plan import LabPlan, Machine, MachinePaths, machine_paths
from hapair.lab.proc import machine_pids, wait_gone
from hapair.lab.sh import LabError, in_netns, run


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == target for line in mounts)


def mount_overlay(p: MachinePaths, lower: Path = Path("/")) -> None:
    for d in (p.upper, p.work, p.root):
        d.mkdir(parents=True, exist_ok=True)
    if not is_mounted(p.root):
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={lower},upperdir={p.upper},workdir={p.work}", str(p.root)])


def clear_links(plan: LabPlan, machine: Machine, timeout: float = 20) -> None:
    """The links of a machine that was just killed go away asynchronously;
    nspawn cannot boot it again while they exist ("File exists")."""
    names = [f"vb-{machine.name}"[:15], *(link.outside for link in machine.links)]
    deadline = time.monotonic() + timeout
    while True:
        present = [n for n in names if run(in_netns(plan.core, ["ip", "link", "show", n]),
                                             check=False).returncode == 0]
        if not present:
            return
        if time.monotonic() > deadline:
            for n in present:
                run(in_netns(plan.core, ["ip", "link", "del", n]), check=False)
            return
        time.sleep(0.2)


def boot(plan: LabPlan, machine: Machine) -> int:
    """Start the machine; returns the nspawn process id."""
    p = machine_paths(plan, machine)
    clear_links(plan, machine)
    argv = [
        "systemd-nspawn", "-D", str(p.root), "--register=no", "--keep-unit",
        "-M", machine.name, "--link-journal=no", "--bind=/dev/fuse",
        f"--network-bridge={plan.bridges['mgmt']}",
        *(f"--network-veth-extra={link.outside}:{link.inside}" for link in machine.links),
        "--boot",
    ]
    console = open(p.console, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        in_netns(plan.core, argv), stdin=subprocess.DEVNULL, stdout=console,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    console.close()
    return proc.pid


def leader_pid(plan: LabPlan, machine: Machine) -> int:
    """PID 1 of the machine, as the host sees it."""
    running = machine_pids(machine_paths(plan, machine).base)
    if not running:
        raise LabError(f"machine {machine.name} is not running")
    pid = running[0]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = children.read_text().split() if children.exists() else []
        if found:
            return int(found[0])
        time.sleep(0.05)
    raise LabError(f"machine {machine.name}: no init process")


def exec_argv(plan: LabPlan, machine: Machine, argv: list[str]) -> list[str]:
    return ["nsenter", "-t", str(leader_pid(plan, machine)), "-a", *argv]


def stop(plan: LabPlan, machine: Machine, pid: int, *, clean: bool, timeout: float = 20) -> None:
    """Shut down cleanly (SIGTERM to nspawn), or cut the power (SIGKILL to PID 1)."""
    if clean:
        os.kill(pid, signal.SIGTERM)
        if wait_gone(pid, timeout):
            return
    with contextlib.suppress(LabError, ProcessLookupError):
        os.kill(leader_pid(plan, machine), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, timeout):
        raise LabError(f"machine {machine.name} (nspawn {pid}) did not stop")


