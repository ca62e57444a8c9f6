"""A lab machine's identity on its first boot, written into its root: name,
management address, SSH access, the host's services it must not run."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from hapair.lab.plan import MGMT_NET, LabPlan, Machine, machine_paths
from hapair.lab.sh import run

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

HOST_KEYS = ("ed25519", "ecdsa")

# A node's services, which its packages enable: apply starts them, in order,
# on its own configuration. A machine that started them at boot would start
# MariaDB on the package's defaults, only for apply to restart it at once.
STARTED_BY_APPLY = ("mariadb.service", "apache2.service", "keepalived.service",
                    "glusterd.service", "nftables.service")


def prepare(plan: LabPlan, machine: Machine, authorized_key: str,
            match: str = "Name=host0", linger: bool = True) -> None:
    """First boot only: identity, management address, SSH access, masked services,
    the node's own services left to apply."""
    p = machine_paths(plan, machine)
    root = p.root
    (root / "etc/hostname").write_text(f"{machine.name}\n")
    (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    units = root / "etc/systemd/system"
    for unit in MASKED:
        target = units / unit
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to("/dev/null")
    for unit in STARTED_BY_APPLY:
        (units / "multi-user.target.wants" / unit).unlink(missing_ok=True)
    # The management address on nspawn's host0, by systemd-networkd.
    netdir = root / "etc/systemd/network"
    netdir.mkdir(parents=True, exist_ok=True)
    (netdir / "10-hapair-lab-mgmt.network").write_text(
        f"[Match]\n{match}\n\n[Network]\n"
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
    _fresh_root_profile(root)
    # A power cut can leave a shell tool's lock behind in root's home (seen:
    # pyenv's rehash lock, shared through the overlay: every SSH login then
    # waited 60 s for it). Each boot clears it.
    tmpfiles = root / "etc/tmpfiles.d"
    tmpfiles.mkdir(parents=True, exist_ok=True)
    (tmpfiles / "hapair-lab.conf").write_text("r /root/.pyenv/shims/.pyenv-shim\n")
    # root's user manager lingers: otherwise each SSH login waits until the
    # previous login's manager has stopped (seen: 90 s stalls of apply).
    # (A VM's minimal Debian has no pam_systemd: no user manager to keep, and
    # one started for the linger fails after a 90 s timeout at every boot.)
    if linger:
        lingering = root / "var/lib/systemd/linger"
        lingering.mkdir(parents=True, exist_ok=True)
        (lingering / "root").touch()
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    # Host keys of the fast kinds only: an RSA key took 0.3-0.6 s of CPU per
    # machine, before it could boot. sshd is told to offer just these.
    for kind in HOST_KEYS:
        run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{machine.name}",
             "-f", str(root / f"etc/ssh/ssh_host_{kind}_key")])
    p.host_keys.write_text("".join(
        (root / f"etc/ssh/ssh_host_{kind}_key.pub").read_text() for kind in HOST_KEYS))
    conf = root / "etc/ssh/sshd_config.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "10-hapair-lab.conf").write_text(
        "".join(f"HostKey /etc/ssh/ssh_host_{kind}_key\n" for kind in HOST_KEYS))


def _fresh_root_profile(root: Path) -> None:
    """root's shell start-up files as a fresh Debian server has them
    (base-files' own), not the host's: bash reads .bashrc for every command
    sent over SSH, and a host's (seen: `pyenv init`, 80 ms of CPU each time)
    ran before each of an apply's hundreds of commands and put the host's
    own Python first on the PATH."""
    shipped = root / "usr/share/base-files"
    for name in ("bashrc", "profile"):
        default = shipped / f"dot.{name}"
        if default.is_file():
            (root / f"root/.{name}").write_bytes(default.read_bytes())


def known_hosts(plan: LabPlan) -> str:
    """known_hosts for every machine of the lab, from the host keys it made
    for them (pure but for reading them): apply never trusts a first contact."""
    lines = []
    for machine in plan.machines:
        for key in machine_paths(plan, machine).host_keys.read_text().splitlines():
            kind, blob = key.split()[:2]
            lines.append(f"{machine.mgmt} {kind} {blob}\n")
    return "".join(lines)
