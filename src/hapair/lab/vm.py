"""Lab machines with a real kernel: QEMU booting Debian's kernel from the lab's
root filesystem image (lab/rootfs.py), for what this host's kernel lacks
(bonding, md RAID).

Software emulation (TCG): KVM is not usable nested here. Each NIC is a tap on
the lab bridge of its network, inside the lab's namespace; the management NIC
comes last, after the spec's eth0, eth1, ... Each data disk is a raw file
plugged as a virtio disk (/dev/vdb, ...). QEMU's monitor (a unix socket)
pulls virtual cables and disks, and pauses the whole machine."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

from hapair.lab.identity import prepare
from hapair.lab.plan import LabPlan, Machine, MachinePaths, machine_paths
from hapair.lab.proc import wait_gone
from hapair.lab.rootfs import Image
from hapair.lab.sh import LabError, in_netns, run

QEMU = "qemu-system-x86_64"
MEMORY_MB = 2048
CPUS = 1
DATA_DISK_SIZE = "1G"
BOOT_TIMEOUT = 240.0  # to SSH, under software emulation on a busy host


def disk(p: MachinePaths) -> Path:
    return p.base / "root.img"


def data_disk(p: MachinePaths, k: int) -> Path:
    return p.base / f"data{k}.img"


def monitor_socket(p: MachinePaths) -> Path:
    return p.base / "monitor.sock"


def pidfile(p: MachinePaths) -> Path:
    return p.base / "qemu.pid"


def mgmt_tap(machine: Machine) -> str:
    return f"tm-{machine.name}"[:15]


def mac(machine: Machine, nic: int) -> str:
    """Fixed per machine and NIC: the management network matches it."""
    return f"52:54:00:{machine.mgmt.packed[-1]:02x}:00:{nic:02x}"


def mgmt_mac(machine: Machine) -> str:
    return mac(machine, len(machine.links))


def taps(plan: LabPlan, machine: Machine) -> list[tuple[str, str]]:
    """(tap, bridge) for each NIC, in the order the kernel names them."""
    return [*((x.outside, x.bridge) for x in machine.links),
            (mgmt_tap(machine), plan.bridges["mgmt"])]


def disk_id(k: int) -> str:
    return f"disk{k}"


def argv(plan: LabPlan, machine: Machine, image: Image) -> list[str]:
    p = machine_paths(plan, machine)
    out = [
        QEMU, "-name", machine.name, "-accel", "tcg,thread=multi", "-cpu", "max",
        "-smp", str(CPUS), "-m", str(MEMORY_MB), "-display", "none",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd),
        "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1",
        "-chardev", f"file,id=console,path={p.console},append=on", "-serial", "chardev:console",
        "-monitor", f"unix:{monitor_socket(p)},server,nowait", "-pidfile", str(pidfile(p)),
        "-drive", f"file={disk(p)},format=raw,if=none,id=root,cache=unsafe",
        "-device", "virtio-blk-pci,drive=root",
    ]
    for k, _name in enumerate(machine.disks):
        out += ["-drive", f"file={data_disk(p, k)},format=raw,if=none,id=drv{k}",
                "-device", f"virtio-blk-pci,drive=drv{k},id={disk_id(k)},serial=data{k}"]
    for nic, (tap, _bridge) in enumerate(taps(plan, machine)):
        out += ["-netdev", f"tap,id={tap},ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev={tap},mac={mac(machine, nic)}"]
    return out


def create(plan: LabPlan, machine: Machine, image: Image, authorized_key: str) -> None:
    """First boot only: the machine's own copy of the image, with its identity,
    management address and SSH access; blank data disks."""
    p = machine_paths(plan, machine)
    p.base.mkdir(parents=True, exist_ok=True)
    run(["cp", "--sparse=always", str(image.disk), str(disk(p))], timeout=300)
    for k, _name in enumerate(machine.disks):
        run(["truncate", "-s", DATA_DISK_SIZE, str(data_disk(p, k))])
    p.root.mkdir(exist_ok=True)
    run(["mount", "-o", "loop", str(disk(p)), str(p.root)])
    try:
        prepare(plan, machine, authorized_key, match=f"MACAddress={mgmt_mac(machine)}",
                linger=False)
    finally:
        run(["umount", str(p.root)])


def boot(plan: LabPlan, machine: Machine, image: Image) -> int:
    """Start the machine; returns QEMU's process id."""
    p = machine_paths(plan, machine)
    for tap, bridge in taps(plan, machine):
        if run(in_netns(plan.core, ["ip", "link", "show", tap]), check=False).returncode:
            run(["ip", "-n", plan.core, "tuntap", "add", "dev", tap, "mode", "tap"])
        run(["ip", "-n", plan.core, "link", "set", tap, "master", bridge, "up"])
    monitor_socket(p).unlink(missing_ok=True)
    with open(p.console, "ab") as console:
        proc = subprocess.Popen(in_netns(plan.core, argv(plan, machine, image)),
                                stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def monitor(plan: LabPlan, machine: Machine, command: str, timeout: float = 10) -> str:
    """One command to QEMU's human monitor; what it answered."""
    path = monitor_socket(machine_paths(plan, machine))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise LabError(f"{machine.name}: QEMU's monitor does not answer ({exc})") from None
        _read_prompt(sock)
        sock.sendall(command.encode() + b"\n")
        said = _read_prompt(sock)
    lines = said.replace("\r", "").splitlines()
    return "\n".join(x for x in lines[1:] if not x.startswith("(qemu)")).strip()


def _read_prompt(sock: socket.socket) -> str:
    data = b""
    while not data.rstrip().endswith(b"(qemu)"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def stop(plan: LabPlan, machine: Machine, pid: int, *, clean: bool, timeout: float = 60) -> None:
    """An ACPI power-button press and a wait, or the power cut (SIGKILL to QEMU)."""
    if clean:
        try:
            monitor(plan, machine, "system_powerdown")
        except LabError:
            pass
        else:
            if wait_gone(pid, timeout):
                return
    os.kill(pid, signal.SIGKILL)
    if not wait_gone(pid, 10):
        raise LabError(f"machine {machine.name} (QEMU {pid}) did not stop")


def ssh_argv(plan: LabPlan, machine: Machine, command: str, connect_timeout: int = 5,
             key: Path | None = None) -> list[str]:
    """A shell command run on a machine over SSH from the control point, with
    the lab's key (lifecycle.LabFiles.key)."""
    key = key or Path(plan.state_dir) / "id_ed25519"
    return in_netns(plan.control.name, [
        "ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", f"root@{machine.mgmt}", command])


def exec_argv(plan: LabPlan, machine: Machine, argv_: list[str]) -> list[str]:
    """A command run in the VM over SSH (no shared kernel to enter); the exit
    code and the output are the command's."""
    return ssh_argv(plan, machine, shlex.join(argv_))


def nic(plan: LabPlan, machine: Machine, name: str, up: bool) -> str:
    """Pull or plug the virtual cable of one NIC (eth0, ...); the tap it is."""
    for link in machine.links:
        if link.inside == name:
            monitor(plan, machine, f"set_link {link.outside} {'on' if up else 'off'}")
            return link.outside
    names = ", ".join(x.inside for x in machine.links)
    raise LabError(f"{machine.name} has no NIC {name!r} (its NICs: {names})")


def disk_index(machine: Machine, name: str) -> int:
    if name in machine.disks:
        return machine.disks.index(name)
    raise LabError(f"{machine.name} has no data disk {name!r} "
                   f"(its disks: {', '.join(machine.disks) or 'none'})")


def disk_pull(plan: LabPlan, machine: Machine, name: str) -> None:
    """Unplug a data disk, as a dead disk drops off the bus."""
    k = disk_index(machine, name)
    said = monitor(plan, machine, f"device_del {disk_id(k)}")
    if said:
        raise LabError(f"{machine.name}: QEMU would not unplug {name}: {said}")


def disk_plug_new(plan: LabPlan, machine: Machine, name: str, timeout: float = 30) -> None:
    """Plug a blank disk in the place of a pulled one (the old one is thrown away)."""
    k = disk_index(machine, name)
    p = machine_paths(plan, machine)
    deadline = time.monotonic() + timeout
    while f'id "{disk_id(k)}"' in monitor(plan, machine, "info qtree"):  # unplug: async
        if time.monotonic() > deadline:
            raise LabError(f"{machine.name}: {name} is still plugged; disk-fail it first")
        time.sleep(0.2)
    path = data_disk(p, k)
    path.unlink(missing_ok=True)
    run(["truncate", "-s", DATA_DISK_SIZE, str(path)])
    drive = f"drv{k}n{int(time.time())}"
    for command in (f"drive_add 0 file={path},format=raw,if=none,id={drive}",
                    f"device_add virtio-blk-pci,drive={drive},id={disk_id(k)},serial=data{k}"):
        said = monitor(plan, machine, command)
        if said and "OK" not in said:
            raise LabError(f"{machine.name}: QEMU would not plug a new {name}: {said}")


def pause(plan: LabPlan, machine: Machine, frozen: bool) -> None:
    """Stop every vCPU at once, as a hypervisor's pause does (or resume)."""
    monitor(plan, machine, "stop" if frozen else "cont")
