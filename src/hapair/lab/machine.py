"""Lab machines: systemd-nspawn booting an overlay of the host's own root.

Each machine has its own upper layer (its disk: /etc, /var, what apply
installs) over the host's root, its own systemd, and links into the lab's
bridges. Packages installed on the host appear in every machine."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from hapair.lab.plan import MGMT_NET, LabPlan, Machine
from hapair.lab.sh import LabError, in_netns, run

# Services the host may have enabled that a cluster node must not run, or that
# only slow a container's boot.
MASKED = (
    "postgresql.service", "networking.service", "e2scrub_reap.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
    "e2scrub_all.timer", "fstrim.timer", "man-db.timer", "systemd-timesyncd.service",
    "systemd-networkd-wait-online.service", "etcd.service", "haproxy.service",
    "nginx.service", "redis-server.service", "memcached.service", "docker.service",
    "containerd.service", "mdmonitor.service", "getty@tty1.service", "console-getty.service",
    # a host with fence-agents and OpenIPMI (for the lab BMCs): no IPMI driver in a machine
    "openipmi.service",
)


@dataclass(frozen=True)
class MachinePaths:
    base: Path

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def console(self) -> Path:
        return self.base / "console.log"


def paths(plan: LabPlan, machine: Machine) -> MachinePaths:
    return MachinePaths(Path(plan.state_dir) / "machines" / machine.name)


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == target for line in mounts)


def mount_overlay(p: MachinePaths) -> None:
    for d in (p.upper, p.work, p.root):
        d.mkdir(parents=True, exist_ok=True)
    if not is_mounted(p.root):
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir=/,upperdir={p.upper},workdir={p.work}", str(p.root)])


def prepare(plan: LabPlan, machine: Machine, authorized_key: str) -> None:
    """First boot only: identity, management address, SSH access, masked services."""
    p = paths(plan, machine)
    root = p.root
    (root / "etc/hostname").write_text(f"{machine.name}\n")
    (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    units = root / "etc/systemd/system"
    for unit in MASKED:
        target = units / unit
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to("/dev/null")
    # The management address on nspawn's host0, by systemd-networkd.
    netdir = root / "etc/systemd/network"
    netdir.mkdir(parents=True, exist_ok=True)
    (netdir / "10-hapair-lab-mgmt.network").write_text(
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={machine.mgmt}/{MGMT_NET.prefixlen}\nLinkLocalAddressing=no\n"
        "DHCP=no\nIPv6AcceptRA=no\n"
    )
    for extra in machine.links:
        if extra.address is not None:  # an address the lab gives (the witness's)
            (netdir / f"20-hapair-lab-{extra.network}.network").write_text(
                f"[Match]\nName={extra.inside}\n\n[Network]\nAddress={extra.address}\n"
                "LinkLocalAddressing=no\nDHCP=no\nIPv6AcceptRA=no\n")
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit in ("systemd-networkd.service",):
        link = wants / unit
        if not link.is_symlink():
            link.symlink_to(f"/lib/systemd/system/{unit}")
    sockets = units / "sockets.target.wants"
    sockets.mkdir(parents=True, exist_ok=True)
    socket = sockets / "systemd-networkd.socket"
    if not socket.is_symlink():
        socket.symlink_to("/lib/systemd/system/systemd-networkd.socket")
    # SSH: the lab's key for root, and host keys of this machine's own.
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(ssh, 0o700)
    keys = ssh / "authorized_keys"
    keys.write_text(authorized_key)
    os.chmod(keys, 0o600)
    # A power cut can leave a shell tool's lock behind in root's home (seen:
    # pyenv's rehash lock, shared through the overlay: every SSH login then
    # waited 60 s for it). Each boot clears it.
    tmpfiles = root / "etc/tmpfiles.d"
    tmpfiles.mkdir(parents=True, exist_ok=True)
    (tmpfiles / "hapair-lab.conf").write_text("r /root/.pyenv/shims/.pyenv-shim\n")
    # root's user manager lingers: otherwise each SSH login waits until the
    # previous login's manager has stopped (seen: 90 s stalls of apply).
    linger = root / "var/lib/systemd/linger"
    linger.mkdir(parents=True, exist_ok=True)
    (linger / "root").touch()
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    run(["ssh-keygen", "-A", "-f", str(root)])


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
    p = paths(plan, machine)
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


def nspawn_pids(under: Path) -> list[int]:
    """Running nspawn processes whose machine root lies under this folder, from /proc
    (no record needed: this also finds what a crashed run left)."""
    needle = str(under).rstrip("/").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"systemd-nspawn") and any(
            a == needle or a.startswith(needle + b"/") for a in argv
        ):
            pids.append(int(entry))
    return pids


def nspawn_pid(plan: LabPlan, machine: Machine) -> int | None:
    """The running nspawn process of this machine."""
    found = nspawn_pids(paths(plan, machine).root)
    return found[0] if found else None


def leader_pid(plan: LabPlan, machine: Machine) -> int:
    """PID 1 of the machine, as the host sees it."""
    pid = nspawn_pid(plan, machine)
    if pid is None:
        raise LabError(f"machine {machine.name} is not running")
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


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie (dead, its parent has not
    reaped it: a drill that started a machine is its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def stop(plan: LabPlan, machine: Machine, *, clean: bool = True, timeout: float = 20) -> None:
    """Shut down cleanly (SIGTERM to nspawn), or cut the power (SIGKILL to PID 1)."""
    pid = nspawn_pid(plan, machine)
    if pid is None:
        return
    if clean:
        os.kill(pid, signal.SIGTERM)
        if wait_gone(pid, timeout):
            return
    with contextlib.suppress(LabError, ProcessLookupError):
        os.kill(leader_pid(plan, machine), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, timeout):
        raise LabError(f"machine {machine.name} (nspawn {pid}) did not stop")


def wait_ssh(plan: LabPlan, machine: Machine, key: Path, timeout: float = 60) -> float:
    """Wait until the machine answers SSH from the control point; seconds waited."""
    start = time.monotonic()
    argv = in_netns(plan.control.name, [
        "ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=1",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", f"root@{machine.mgmt}", "systemctl is-system-running --wait",
    ])
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
