"""A starved host for a drill run (`hapair drill --stress`): CPU and I/O
pressure from Debian's stress-ng on the host and inside the primary, for the
run's length and no longer. The margins of the lease arithmetic must hold
when the host is unkind (two emulated VMs busy beside the lab once made a
frozen agent's database close later than the standby opened)."""

from __future__ import annotations

import subprocess

from hapair.lab import machine as m
from hapair.lab.plan import LabPlan

# Workers: on this 2-core host, two CPU hogs beside the lab's three machines
# and the workload, and a sync() loop for the disk; one more of each inside
# the primary, in its own cgroup, as a busy service there would be.
HOST = ("--cpu", "2", "--io", "1")
NODE = ("--cpu", "1", "--io", "1")


def argv(workers: tuple[str, ...], seconds: float) -> list[str]:
    """stress-ng's command line, bounded by its own timeout (pure)."""
    return ["stress-ng", *workers, "--timeout", f"{max(1, round(seconds))}s", "--quiet"]


class Stress:
    def __init__(self, plan: LabPlan, node: str, seconds: float):
        self.plan, self.node, self.seconds = plan, node, seconds
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.procs.append(subprocess.Popen(argv(HOST, self.seconds),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        inside = m.exec_argv(self.plan, self.plan.machine(self.node), argv(NODE, self.seconds))
        self.procs.append(subprocess.Popen(inside, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        """SIGTERM: stress-ng ends its workers with it (its timeout bounds
        them anyway)."""
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=30)
        machine = self.plan.machine(self.node)
        if m.pid_of(self.plan, machine) is not None:  # nsenter forked: stop it inside too
            subprocess.run(m.exec_argv(self.plan, machine, ["pkill", "-x", "stress-ng"]),
                           capture_output=True, timeout=30)
