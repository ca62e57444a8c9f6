"""Probes of the node itself: keepalived, the VIP, the application, Apache,
the bonds and RAID arrays. Each is a command or a read plus a pure parser."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from hapair.agent.core.hardware import Hardware
from hapair.probes import bonding, mdstat

BONDING = Path("/proc/net/bonding")
MDSTAT = Path("/proc/mdstat")


# A node that gave the VIP up keeps it on lo this long (after a drain, a
# DropVip; keepalived's own drops too: render/keepalived.VIP_LINGER_S): an
# answer the application sends after the VIP left (a request that came in at the drain's last
# moment) is otherwise dropped by the kernel, its source address no longer
# local, and its client waits out its own timeout (measured: 3 of 8 clients
# waited 1 s in one switchover of two). Not answered in ARP there: clients
# send to the new holder; only this node's replies leave from it.
LINGER_S = 2.0


def keepalived_running(proc: str = "/proc") -> bool:
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(f"{proc}/{pid}/comm") as f:
                if f.read().strip() == "keepalived":
                    return True
        except OSError:
            continue
    return False


def parse_addresses(ip_output: str) -> set[str]:
    """`ip -o -4 addr show` lines: "2: pub0    inet 10.54.0.10/24 brd ... scope global pub0"."""
    out = set()
    for line in ip_output.splitlines():
        parts = line.split()
        if "inet" in parts:
            out.add(parts[parts.index("inet") + 1].split("/")[0])
    return out


def addresses(device: str) -> set[str]:
    r = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", device], capture_output=True,
                       text=True, timeout=2)
    return parse_addresses(r.stdout)


def drop_address(device: str, address: str, prefix: int) -> None:
    subprocess.run(["ip", "addr", "del", f"{address}/{prefix}", "dev", device],
                   capture_output=True, timeout=2)


def linger(address: str) -> None:
    """The address kept on lo (a /32, never answered in ARP there: see
    render/keepalived.sysctl): sockets bound to it can still send."""
    subprocess.run(["ip", "addr", "replace", f"{address}/32", "dev", "lo"],
                   capture_output=True, timeout=2)


def end_linger(address: str) -> None:
    subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"],
                   capture_output=True, timeout=2)


def linger_for(address: str, seconds: float) -> None:
    """On lo now, gone after `seconds` (a timer: nothing waits)."""
    linger(address)
    threading.Timer(seconds, end_linger, (address,)).start()


def announce(device: str, address: str, count: int = 2) -> None:
    """Gratuitous ARP for an address this node holds: clients and switches
    that still send to another node's MAC for it learn where it is now. In
    the background: arping spaces its packets a second apart, and nothing
    should wait for that."""
    argv = ["arping", "-U", "-c", str(count), "-w", "1", "-I", device, address]
    threading.Thread(target=subprocess.run, args=(argv,), daemon=True, name="garp",
                     kwargs={"capture_output": True, "timeout": 5}).start()


def vip_link(device: str, bond_problem: str) -> str:
    """What keeps clients from reaching this node on the VIP's device ("" none),
    whatever keepalived says: no carrier, or a bond with no slave carrying."""
    if bond_problem:
        return f"the VIP's network: {bond_problem}"
    return "" if has_carrier(device) else f"the {device} link (the VIP's network) has no carrier"


def has_carrier(device: str, sys_class_net: str = "/sys/class/net") -> bool:
    """The link is up at the physical layer (a cut cable or a downed switch
    port reads 0). A device that cannot be read counts as down."""
    try:
        with open(f"{sys_class_net}/{device}/carrier") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def pending(folder: str) -> tuple[str, ...]:
    """The restarts and reloads apply noted here and the roll has not done."""
    try:
        return tuple(sorted(e.name for e in os.scandir(folder) if not e.name.startswith(".")))
    except OSError:
        return ()


def kill_user_processes(user: str) -> None:
    """SIGKILL every process of a user, read from /proc (no pkill to start:
    this runs when a resumed machine's stuck commits must be closed, and a
    new process cost tens of milliseconds then). Not waited for: a process
    with a SIGKILL pending never returns to its own code, so none of them
    can tell a client "done" once this has returned, and their sessions may
    go at once (systemd restarts the service)."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile


def http_problem(url: str, what: str, timeout: float = 0.5) -> str:
    """Empty when the URL answers 200, else what is wrong (one phrase)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return "" if r.status == 200 else f"{what} answered {r.status}"
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        return f"{what} not answering ({reason})"


def write_if_changed(path: str, text: str) -> None:
    """Atomically (temporary file, rename), and only when it differs."""
    if read_text(path) == text:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")  # one per writer
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def hardware(bonds: tuple[str, ...], array: str) -> Hardware:
    """The bonds and the array the spec names, as the kernel reports them."""
    found, missing = [], []
    for name in bonds:
        try:
            found.append(bonding.parse(name, (BONDING / name).read_text()))
        except (OSError, ValueError):
            missing.append(name)
    arrays: tuple[mdstat.Array, ...] = ()
    if array:
        with contextlib.suppress(OSError):
            arrays = tuple(a for a in mdstat.parse(MDSTAT.read_text()) if a.name == array)
        if not arrays:
            missing.append(array)
    return Hardware(tuple(found), arrays, tuple(missing))


def uptime() -> float:
    """The kernel's uptime (/proc/uptime's clock), which shell scripts read too."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
