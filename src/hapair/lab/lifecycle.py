"""Bring a lab up and down; find what a lab left behind, even after a crash."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hapair.lab import bmc, container, identity, net, rootfs, vm
from hapair.lab import machine as m
from hapair.lab.plan import (
    ALERT_PORT,
    CONTAINER,
    CONTROL_ADDR,
    STATE_ROOT,
    VM,
    LabPlan,
)
from hapair.lab.proc import machine_pids
from hapair.lab.sh import LabError, in_netns, run
from hapair.probes.procs import children

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabFiles:
    state_dir: Path

    @property
    def key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets.toml"

    @property
    def spec(self) -> Path:
        return self.state_dir / "spec.toml"

    @property
    def ca(self) -> Path:
        """The cluster CA's certificate (public): what a browser, curl or the
        drills' workload trusts for the lab's HTTPS."""
        return self.state_dir / "ca.crt"

    @property
    def forwarder_pid(self) -> Path:
        """The lab's helper processes on the host: forwarders, the alert sink."""
        return self.state_dir / "forwarder.pid"

    @property
    def alerts(self) -> Path:
        """The alerts the lab's webhook receiver got (lab/alert_sink.py)."""
        return self.state_dir / "alerts.jsonl"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"


def files_of(plan: LabPlan) -> LabFiles:
    return LabFiles(Path(plan.state_dir))


def up(plan: LabPlan, spec_text: str, progress: Progress) -> None:
    """Create namespaces and bridges, boot every machine, wait for SSH."""
    if any(net.netns_exists(n) for n in (plan.core, plan.client.name, plan.control.name)):
        raise LabError(f"lab {plan.cluster} is already up (hapair lab down first)")
    files = files_of(plan)
    files.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(files.state_dir, 0o700)
    files.spec.write_text(spec_text)
    if not files.key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"hapair-lab-{plan.cluster}",
             "-f", str(files.key)])
    pubkey = files.key.with_suffix(".pub").read_text()
    try:
        progress(f"networks: namespace {plan.core}, bridges {', '.join(plan.bridges.values())}")
        net.create_core(plan)
        net.create_namespace(plan, plan.client)
        net.create_namespace(plan, plan.control)
        roots = {r: rootfs.ensure(r, progress)
                 for r in {m.recipe_of(x) for x in plan.machines} if r is not None}
        for machine in plan.machines:
            r = m.recipe_of(machine)
            root = roots[r] if r is not None else None
            if machine.kind == VM:
                assert root is not None
                if not vm.disk(m.paths(plan, machine)).exists():
                    vm.create(plan, machine, root, pubkey)
            else:
                p = m.paths(plan, machine)
                fresh = not p.upper.exists()
                container.mount_overlay(p, root.tree if root else Path("/"))
                if fresh:
                    # A release's minimal root has no pam_systemd: no user
                    # manager for root to keep (see identity.prepare).
                    m.prepare(plan, machine, pubkey, linger=root is None)
            m.boot(plan, machine)
            kind = ("a VM (Debian's kernel, emulated)" if machine.kind == VM else
                    f"a container of Debian {machine.release}" if machine.release else
                    "a container")
            progress(f"{machine.name}: booting {kind}, mgmt {machine.mgmt}")
        for machine in plan.machines:
            if machine.kind == CONTAINER:
                for link in machine.links:
                    net.attach(plan, link.outside, link.bridge)
        files.known_hosts.write_text(identity.known_hosts(plan))
        for machine in plan.machines:
            waited = m.wait_ssh(plan, machine, files.key)
            progress(f"{machine.name}: up, SSH answers ({waited:.1f}s)")
    except BaseException:
        progress("lab up failed: removing what was made")
        down(plan.cluster, lambda _msg: None)
        raise


def start_forwarder(plan: LabPlan, address: str, port: int,
                    target_port: int = 80, namespace: str = "") -> int:
    """127.0.0.1:port on the host -> address:target_port, each connection made
    from inside a lab namespace (the client's by default: the VIP as a
    customer reaches it; the control point's for the agents' status pages)."""
    # socat's EXEC cannot carry the inner address's colons: a script can.
    script = files_of(plan).state_dir / f"forward-{port}.sh"
    inner = shlex.join(in_netns(namespace or plan.client.name,
                                ["socat", "STDIO", f"TCP:{address}:{target_port}"]))
    script.write_text(f"#!/bin/sh\nexec {inner}\n")
    script.chmod(0o700)
    return _helper(plan, ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                          f"EXEC:{script}"])


def start_alert_sink(plan: LabPlan) -> str:
    """The lab's webhook receiver in the control point (lab/alert_sink.py);
    its URL (the lab specs name it as their webhook)."""
    files = files_of(plan)
    _helper(plan, in_netns(plan.control.name, [
        sys.executable, "-m", "hapair.lab.alert_sink", str(CONTROL_ADDR), str(ALERT_PORT),
        str(files.alerts), str(files.secrets)]))
    return f"http://{CONTROL_ADDR}:{ALERT_PORT}/alerts"


def _helper(plan: LabPlan, argv: list[str]) -> int:
    """A process of the lab's on the host (a forwarder, the alert sink), in its
    own session; `down` ends it."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    with files_of(plan).forwarder_pid.open("a") as pids:
        pids.write(f"{proc.pid}\n")
    return proc.pid


def wait_for_vip(plan: LabPlan, vip: str, seconds: float = 90) -> float:
    """Until the VIP answers /healthz from the client (the agents open the
    primary a few seconds after apply restarts them); the seconds it took."""
    started = time.monotonic()
    probe = in_netns(plan.client.name, ["curl", "-s", "-m", "1", "-o", "/dev/null",
                                        "-w", "%{http_code}", f"http://{vip}/healthz"])
    while True:
        if run(probe, check=False, timeout=5).stdout.strip() == "200":
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise LabError(f"the VIP {vip} did not answer within {seconds:.0f}s of apply (the "
                           "lab stays up: `hapair status SPEC` says why)")
        time.sleep(0.3)


@dataclass
class DownReport:
    machines: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)


def _lab_mounts(state_dir: Path) -> list[str]:
    prefix = str(state_dir) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]


def down(cluster: str, progress: Progress) -> DownReport:
    """Remove everything a lab made. Safe to run twice and after a crash: it looks
    for the lab's processes, mounts and namespaces rather than trusting a record."""
    state_dir = Path(STATE_ROOT) / cluster
    report = DownReport()
    pid_file = LabFiles(state_dir).forwarder_pid
    if pid_file.exists():
        for forwarder in pid_file.read_text().split():
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                os.killpg(int(forwarder), signal.SIGTERM)
        pid_file.unlink()
    if bmc.stop(state_dir):
        progress("BMCs: stopped")
    for pid in machine_pids(state_dir):
        os.kill(pid, signal.SIGTERM)
        report.machines.append(str(pid))
    deadline = time.monotonic() + 20
    for pid in machine_pids(state_dir):
        if not m.wait_gone(pid, max(0.1, deadline - time.monotonic())):
            # The machine's init first: killed alone, nspawn leaves it running,
            # its services with it, under the host's init (seen: a Debian 13
            # machine that did not power off within the 20 s).
            for init in children(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
            m.wait_gone(pid, 5)
    if report.machines:
        progress(f"machines: stopped {len(report.machines)}")
    for mount in sorted(_lab_mounts(state_dir), key=len, reverse=True):
        if run(["umount", mount], check=False).returncode != 0:
            run(["umount", "-l", mount], check=False)
        report.mounts.append(mount)
    for ns in net.lab_namespaces(cluster):
        net.delete_namespace(ns)
        report.namespaces.append(ns)
    if report.namespaces:
        progress(f"namespaces: removed {', '.join(report.namespaces)}")
    if _lab_mounts(state_dir) or machine_pids(state_dir):
        raise LabError(f"lab {cluster}: something is still running or mounted under {state_dir}")
    shutil.rmtree(state_dir, ignore_errors=True)
    return report
