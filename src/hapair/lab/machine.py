"""Lab machines, whatever runs them: a container (lab/container.py) or a
virtual machine with Debian's kernel (lab/vm.py). The rest of the lab and
the drills go through here."""

from __future__ import annotations

import time
from pathlib import Path

from hapair.lab import container, rootfs, vm
from hapair.lab.identity import prepare
from hapair.lab.plan import VM, LabPlan, Machine, MachinePaths, machine_paths
from hapair.lab.proc import machine_pids, wait_gone
from hapair.lab.rootfs import Image
from hapair.lab.sh import LabError, run

__all__ = ["prepare", "wait_gone", "MachinePaths"]


def paths(plan: LabPlan, machine: Machine) -> MachinePaths:
    return machine_paths(plan, machine)


def pid_of(plan: LabPlan, machine: Machine) -> int | None:
    """The running nspawn or QEMU process of this machine, or None."""
    found = machine_pids(paths(plan, machine).base)
    return found[0] if found else None


def recipe_of(machine: Machine) -> rootfs.Recipe | None:
    """The root filesystem the machine boots: None for a container over the
    host's own root."""
    if machine.kind == VM:
        return rootfs.recipe(suite=machine.release or rootfs.SUITE)
    if machine.release is not None:
        return rootfs.recipe(suite=machine.release, image=False)
    return None


def root_of(machine: Machine) -> Image | None:
    """The built root filesystem the machine boots (built by `lab up`)."""
    r = recipe_of(machine)
    if r is None:
        return None
    image = rootfs.image_of(r)
    if not image.ready():
        raise LabError(f"the root filesystem of {machine.name}, {image.folder}, is missing: "
                       "`hapair lab up` builds it")
    return image


def boot(plan: LabPlan, machine: Machine) -> int:
    """Start the machine on the disk it has; the process id of what runs it."""
    root = root_of(machine)
    if machine.kind == VM:
        assert root is not None
        return vm.boot(plan, machine, root)
    container.mount_overlay(paths(plan, machine), root.tree if root else Path("/"))
    return container.boot(plan, machine)


def stop(plan: LabPlan, machine: Machine, *, clean: bool = True) -> None:
    """Shut down cleanly, or cut the power."""
    pid = pid_of(plan, machine)
    if pid is None:
        return
    if machine.kind == VM:
        vm.stop(plan, machine, pid, clean=clean)
    else:
        container.stop(plan, machine, pid, clean=clean)


def exec_argv(plan: LabPlan, machine: Machine, argv: list[str]) -> list[str]:
    if machine.kind == VM:
        return vm.exec_argv(plan, machine, argv)
    return container.exec_argv(plan, machine, argv)


def wait_ssh(plan: LabPlan, machine: Machine, key: Path, timeout: float | None = None) -> float:
    """Wait until the machine answers SSH from the control point; seconds waited."""
    start = time.monotonic()
    if timeout is None:
        timeout = vm.BOOT_TIMEOUT if machine.kind == VM else 60.0
    argv = vm.ssh_argv(plan, machine, "systemctl is-system-running --wait", connect_timeout=1,
                       key=key)
    while True:
        result = run(argv, check=False, timeout=90)
        if result.returncode == 0 or result.stdout.strip() == "degraded":
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise LabError(
                f"{machine.name} did not answer SSH on {machine.mgmt} within {timeout:g}s "
                f"(console: {paths(plan, machine).console})"
            )
        time.sleep(0.2)
