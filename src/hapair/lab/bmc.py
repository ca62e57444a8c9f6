"""Simulated BMCs for lab machines: one OpenIPMI ``ipmi_sim`` per fenced
node, listening on the lab's management network (in the control point's
namespace), whose chassis power control cuts and restores that machine's
power. The nodes fence each other through them with the real
``fence_ipmilan``, exactly as they would with real servers' BMCs."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from hapair.lab import machine as m
from hapair.lab.faults import freezer_group
from hapair.lab.plan import CONTROL_ADDR, MGMT_NET, LabPlan, LabPlanError
from hapair.lab.sh import LabError, in_netns, run
from hapair.spec.models import ClusterSpec


@dataclass(frozen=True)
class Bmc:
    node: str
    ip: IPv4Address
    port: int
    username: str


def bmcs_of(spec: ClusterSpec) -> tuple[Bmc, ...]:
    """The BMC each fenced node's device names (pure)."""
    out = []
    taken = {CONTROL_ADDR}
    for n in spec.nodes:
        with contextlib.suppress(ValueError):
            taken.add(IPv4Address(n.ssh))
    for i, n in enumerate(spec.nodes):
        if n.fence is None:
            continue
        where = f"nodes[{i}].fence"
        if n.fence.agent != "fence_ipmilan":
            raise LabPlanError(f"{where}.agent: the lab simulates IPMI BMCs only "
                               "(fence_ipmilan)")
        o = n.fence.options
        try:
            ip = IPv4Address(o.get("ip") or o.get("ipaddr") or "")
        except ValueError:
            raise LabPlanError(f"{where}.options.ip: the BMC's address is needed") from None
        if ip not in MGMT_NET or ip in taken:
            raise LabPlanError(f"{where}.options.ip: {ip} must be a free address of the lab's "
                               f"management network {MGMT_NET}")
        taken.add(ip)
        port = o.get("ipport", "623")
        if not port.isdigit():
            raise LabPlanError(f"{where}.options.ipport: a port number, not {port!r}")
        out.append(Bmc(n.name, ip, int(port), o.get("username") or o.get("login") or "admin"))
    return tuple(out)


def _quoted(text: str) -> str:
    if '"' in text or "\\" in text:
        raise LabError("a BMC user name or password may not hold quotes or backslashes")
    return f'"{text}"'


def lan_conf(bmc: Bmc, password: str, chassis: Path, serial_port: int) -> str:
    """ipmi_sim's configuration: one LAN channel, one admin user, power
    control through the chassis script. The serial line is never connected;
    ipmi_sim wants one to know its BMC's address."""
    return f"""name "{bmc.node}-bmc"
set_working_mc 0x20
  startlan 1
    addr {bmc.ip} {bmc.port}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{chassis} 0x20"
  serial kcs 127.0.0.1 {serial_port} codec VM ipmb 0x20
  user 2 true {_quoted(bmc.username)} {_quoted(password)} admin 10 md5
"""


EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
"""


def chassis_script(spec_file: Path, node: str, root: Path, log: Path, freezer: Path) -> str:
    """ipmi_sim's chassis control for one machine: ``<mc> get power`` and
    ``<mc> set power 0`` in plain shell (a BMC answers in milliseconds, and
    a fence agent asks several times); booting goes to hapair, in the
    background. A power cut is a SIGKILL of the machine's PID 1 and nspawn."""
    boot = shlex.join([sys.executable, "-m", "hapair", "lab", "fault", "start", str(spec_file),
                       node])
    return f"""#!/bin/sh
# chassis control of lab machine {node} (ipmi_sim: MC get|set PARM [VALUE] ...)
pattern={shlex.quote(f"systemd-nspawn -D {root} ")}
running() {{ pgrep -f -- "$pattern" | tr '\\n' ' '; }}
echo "$(date +%T.%N) $*" >> {shlex.quote(str(log))}  # the BMC's event log
mc=$1; op=$2; shift 2
case $op in
get)
    for parm in "$@"; do
        case $parm in
        power) if [ -n "$(running)" ]; then echo power:1; else echo power:0; fi ;;
        *) echo "$parm:default" ;;
        esac
    done ;;
set)
    while [ $# -ge 2 ]; do
        parm=$1; value=$2; shift 2
        pid=$(running)
        if [ "$parm:$value" = power:0 ] || [ "$parm:$value" = reset:1 ]; then
            for p in $pid; do
                kill -KILL $(cat /proc/$p/task/*/children 2>/dev/null) $p 2>/dev/null
            done
            # power is power: a machine frozen by a drill dies too (SIGKILL waits for a thaw)
            echo THAWED > {shlex.quote(str(freezer))}/freezer.state 2>/dev/null
            i=0
            while [ -n "$(running)" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
            pid=
        fi
        if [ "$parm:$value" = power:1 ] || [ "$parm:$value" = reset:1 ]; then
            if [ -z "$pid" ]; then
                setsid {boot} >/dev/null 2>&1 < /dev/null &
            fi
        fi
    done ;;
esac
exit 0
"""


def _dir(plan: LabPlan, node: str) -> Path:
    return Path(plan.state_dir) / "bmc" / node


def start(plan: LabPlan, spec: ClusterSpec, passwords: dict[str, str], spec_file: Path,
          only: str | None = None) -> list[Bmc]:
    """Start the BMCs (or one); their addresses go on the control point's link."""
    started = []
    for i, bmc in enumerate(bmcs_of(spec)):
        if only is not None and bmc.node != only:
            continue
        d = _dir(plan, bmc.node)
        (d / "state").mkdir(parents=True, exist_ok=True)
        os.chmod(d.parent, 0o700)
        chassis = d / "chassis.sh"
        root = m.paths(plan, plan.machine(bmc.node)).root
        chassis.write_text(chassis_script(spec_file, bmc.node, root, d / "events.log",
                                          freezer_group(plan, bmc.node)))
        chassis.chmod(0o700)
        conf = d / "lan.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(lan_conf(bmc, passwords[bmc.node], chassis, 9700 + i))
        (d / "emu.cmd").write_text(EMU)
        link = plan.control.link.inside
        have = run(["ip", "-n", plan.control.name, "-4", "addr", "show", "dev", link]).stdout
        if f" {bmc.ip}/" not in have:
            run(["ip", "-n", plan.control.name, "addr", "add",
                 f"{bmc.ip}/{MGMT_NET.prefixlen}", "dev", link])
        proc = subprocess.Popen(
            in_netns(plan.control.name, ["ipmi_sim", "-c", str(conf), "-f", str(d / "emu.cmd"),
                                         "-s", str(d / "state"), "-n"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        time.sleep(0.2)
        if proc.poll() is not None:
            raise LabError(f"the BMC of {bmc.node} (ipmi_sim) did not start")
        started.append(bmc)
    return started


def pids(state_dir: Path, node: str | None = None) -> list[int]:
    """Running ipmi_sim processes of this lab (or of one node's BMC), from /proc."""
    mark = str(state_dir / "bmc" / (node or "")).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"ipmi_sim") and any(mark in a for a in argv):
            found.append(int(entry.name))
    return found


def stop(state_dir: Path, node: str | None = None) -> int:
    """Stop the lab's BMCs (or one); how many were running."""
    found = pids(state_dir, node)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pids(state_dir, node) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(found)
