"""Fault scenarios as a table: what to break, on which node, how it comes back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hapair.drill.changes import CHANGES, Change, changed_path, changed_text, lab_apply
from hapair.lab import faults
from hapair.lab.plan import LabPlan
from hapair.ops.client import Agents
from hapair.secrets import read_token
from hapair.spec.models import ClusterSpec

Target = Literal["primary", "standby"]


@dataclass(frozen=True)
class Ctx:
    plan: LabPlan
    agents: Agents
    node: str  # the node the step targets
    peer: str
    witness: str = ""  # the witness's machine ("" none)
    password: str = ""  # the drill user's, for a real user's sign-ins
    ca: str = ""  # the CA file of the web's certificate ("" none)
    spec: str = ""  # the lab's spec file (a change is applied beside it)


Fn = Callable[[Ctx], object]


@dataclass(frozen=True)
class Step:
    """One fault on the node in the given role, and its undoing (None: the
    cluster must recover alone, e.g. systemd restarts a killed process)."""

    what: str
    target: Target
    fault: Fn
    recover: Fn | None
    hold_s: float = 4.0  # how long the fault lasts before recovery
    fenced: bool = False  # only for a cluster whose nodes have fence devices
    witness: bool = False  # only for a cluster with a witness
    needs: str = ""  # hardware it needs: "public-bond", "raid" (a lab of VMs)
    moves: bool = True  # whether the fault calls for the VIP to move (abuse: never)
    takes_s: float = 0.0  # what the fault and its recovery take themselves (an apply)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]

    @property
    def fenced(self) -> bool:
        return any(s.fenced for s in self.steps)

    @property
    def witness(self) -> bool:
        return any(s.witness for s in self.steps)

    @property
    def needs(self) -> set[str]:
        return {s.needs for s in self.steps if s.needs}


def hardware_of(spec: ClusterSpec) -> set[str]:
    """What a cluster has that a scenario may need."""
    return ({"public-bond"} if spec.networks.public.bond else set()) | (
        {"raid"} if spec.storage else set())


def _start(c: Ctx) -> object:
    from hapair.lab.lifecycle import files_of
    return faults.start(c.plan, c.node, files_of(c.plan).key)


def _kill(process: str) -> Fn:
    return lambda c: faults.kill(c.plan, c.node, process)


def _link(network: str, up: bool) -> Fn:
    return lambda c: faults.link(c.plan, c.node, network, up)


def _active_member(c: Ctx) -> str:
    """The public bond's member carrying the traffic now, as the node's kernel says."""
    from hapair.lab import machine as m
    from hapair.lab.sh import run
    from hapair.probes.bonding import parse

    bond = c.agents.spec.networks.public.bond
    assert bond is not None
    text = run(m.exec_argv(c.plan, c.plan.machine(c.node),
                           ["cat", f"/proc/net/bonding/{bond.name}"])).stdout
    return parse(bond.name, text).active or bond.interfaces[0]


def _nic_cut(c: Ctx) -> object:
    nic = _active_member(c)
    faults.nic(c.plan, c.node, nic, False)
    return nic


def _nics_back(c: Ctx) -> object:
    bond = c.agents.spec.networks.public.bond
    assert bond is not None
    for nic in bond.interfaces:
        faults.nic(c.plan, c.node, nic, True)
    return None


def _disk(c: Ctx) -> tuple[str, str]:
    storage = c.agents.spec.storage
    assert storage is not None
    return storage.array, storage.devices[-1]


def _disk_fail(c: Ctx) -> object:
    faults.disk_fail(c.plan, c.node, _disk(c)[1])
    return _disk(c)[1]


def _disk_replace(c: Ctx) -> object:
    array, disk = _disk(c)
    faults.disk_replace(c.plan, c.node, disk, array)
    return None


def _cut(networks: tuple[str, ...]) -> Fn:
    return lambda c: faults.partition(c.plan, c.node, c.peer, networks)


def _heal(c: Ctx) -> object:
    faults.heal(c.plan)
    return None


def _power_cut(c: Ctx) -> object:
    faults.power_cut(c.plan, c.node)
    return None


def _signal(process: str, signal: str) -> Fn:
    return lambda c: faults.kill(c.plan, c.node, process, signal)


def _freeze(c: Ctx) -> object:
    return faults.freeze(c.plan, c.node)


def _thaw(c: Ctx) -> object:
    faults.thaw(c.plan, c.node)
    return None


def _device_down_power_cut(c: Ctx) -> object:
    faults.bmc(c.plan, c.node, False)
    faults.power_cut(c.plan, c.node)
    return None


def _device_up(c: Ctx) -> object:
    """The device back; the machine stays off (the drill boots it at the end of
    the run: the standby, which may now fence it, goes first)."""
    return faults.bmc(c.plan, c.node, True)


def _witness_off(c: Ctx) -> object:
    faults.power_cut(c.plan, c.witness)
    return None


def _witness_on(c: Ctx) -> object:
    from hapair.lab.lifecycle import files_of
    return faults.start(c.plan, c.witness, files_of(c.plan).key)


def _cut_witness(c: Ctx) -> object:
    """The witness cut from both nodes; the nodes still reach each other."""
    return faults.cut_all(c.plan, [(c.witness, n, ("public",)) for n in (c.node, c.peer)])


def _isolate(c: Ctx) -> object:
    """The node cut from its peer and from the witness: the other two keep a majority."""
    return faults.cut_all(c.plan, [(c.node, c.peer, ("interconnect", "public")),
                                   (c.node, c.witness, ("public",))])


def _witness_then_node(c: Ctx) -> object:
    _witness_off(c)
    time.sleep(2)
    faults.power_cut(c.plan, c.node)
    return None


def _both_on(c: Ctx) -> object:
    _witness_on(c)
    return _start(c)


class MonitorReplay:
    """A monitoring host (the lab's control point) that replays the standby's
    /status with the read-only credential, "as the primary" (X-Hapair-Node),
    every 50 ms while the primary is powered off. It must not count as the
    primary's sign of life: the standby would never take over."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def fault(self, c: Ctx) -> object:
        standby = c.agents.spec.node(c.peer)
        req = urllib.request.Request(c.agents.url(standby, "/status"), headers={
            "Authorization": f"Bearer {read_token(c.agents.token)}", "X-Hapair-Node": c.node})
        self.stop.clear()

        def replay() -> None:
            while not self.stop.is_set():
                try:
                    with urllib.request.urlopen(req, timeout=1, context=c.agents.tls) as r:
                        r.read()
                except OSError:
                    pass
                self.stop.wait(0.05)

        threading.Thread(target=replay, name="monitor-replay", daemon=True).start()
        faults.power_cut(c.plan, c.node)
        return None

    def recover(self, c: Ctx) -> object:
        self.stop.set()
        return _start(c)


_monitor = MonitorReplay()


class Attack:
    """Attack traffic from another host on the client network (an address of
    its own in the client's namespace) against the VIP and both nodes' own
    addresses, for hold_s, while a real user signs in every second; recover
    waits for it and returns its summary."""

    def __init__(self, args: tuple[str, ...], seconds: float,
                 more: Callable[[ClusterSpec], tuple[str, ...]] = lambda spec: ()) -> None:
        self.args, self.seconds, self.more = args, seconds, more  # more: from the spec
        self.proc: subprocess.Popen[str] | None = None

    def fault(self, c: Ctx) -> object:
        from hapair.lab.plan import client_address
        from hapair.lab.sh import in_netns

        spec = c.agents.spec
        source = client_address(spec, skip=1)
        ns = c.plan.client.name
        subprocess.run(in_netns(ns, ["ip", "addr", "replace", str(source), "dev",
                                     c.plan.client.link.inside]), check=True, timeout=10)
        tls = spec.web.tls != "off"
        targets = [str(spec.vip.address), *(str(n.public) for n in spec.nodes)]
        argv = in_netns(ns, [sys.executable, "-m", "hapair.drill.attack",
                             "--targets", ",".join(targets), "--vip", str(spec.vip.address),
                             "--source", str(source.ip), "--seconds", f"{self.seconds:g}",
                             *(["--tls"] if tls else []), *(["--ca", c.ca] if c.ca else []),
                             *self.args, *self.more(spec)])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "ROOMBOOK_PASSWORD": c.password})
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def recover(self, c: Ctx) -> object:
        if self.proc is None:
            return None
        out, err = self.proc.communicate(timeout=60)
        self.proc = None
        try:
            return summarize_attack(json.loads(out.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            return f"the attack printed no summary: {err.strip()[-300:]}"


def summarize_attack(found: dict[str, Any]) -> str:
    """One line: what the targets answered, and the real user's sign-ins."""
    signins = found.get("signins", [])
    ok = [s for s, status in signins if status == 200]
    user = (f"real user: {len(ok)}/{len(signins)} sign-ins ok, slowest "
            f"{max((s for s, _ in signins), default=0):.2f}s")
    seen = "; ".join(f"{k} x{v}" for k, v in found.get("seen", {}).items())
    return f"{user}; attacker: {seen}"


ABUSE_S = 60.0
_slow = Attack(("slow", "--bodies", "100", "--headers", "100"), ABUSE_S)
_logins = Attack(("logins", "--per-minute", "1000"), ABUSE_S)
_adverts = Attack(("vrrp",), ABUSE_S, lambda spec: (
    "--vrid", str(spec.vip.vrid),
    *(x for n in spec.nodes for x in ("--node", f"{n.public},{n.interconnect}"))))


def _switchover(c: Ctx) -> object:
    """Planned: ask the standby's agent to take over (as `hapair switchover`)."""
    return c.agents.post(c.agents.spec.node(c.peer), "/switchover", {})


def _reboot(every: bool) -> Fn:
    """As `hapair reboot NODE` (every: `--all`, the standby then the primary)
    with the lab rebooting the machine: maintenance, the reboot, the wait
    until it is a complete replica again, maintenance off. What it said."""
    def fault(c: Ctx) -> object:
        from hapair.ops import maintenance as mt

        said: list[str] = []
        for name in mt.order(c.agents) if every else [c.node]:
            mt.reboot(c.agents, name, faults.rebooter(c.plan), said.append)
        return "; ".join(line for line in said if " back in " in line)
    return fault


def _change_step(change: Change) -> Step:
    """The change applied (rolled by apply), then the original spec applied back."""
    def fault(c: Ctx) -> object:
        spec = Path(c.spec)
        changed = changed_path(spec, change)
        changed.write_text(changed_text(spec.read_text(), change))
        try:
            return lab_apply(changed)
        finally:
            changed.unlink(missing_ok=True)

    return Step(f"apply: {change.what}, then back", "primary", fault,
                lambda c: lab_apply(Path(c.spec)), 0, moves=change.restarts, takes_s=110)


STEPS: dict[str, Step] = {
    "power-cut-primary": Step("power cut of the primary", "primary", _power_cut, _start, 5),
    "kill-mariadb-primary": Step("mariadbd SIGKILLed on the primary", "primary",
                                 _kill("mariadbd"), None),
    "kill-keepalived-primary": Step("every keepalived SIGKILLed on the primary", "primary",
                                    _kill("keepalived"), None),
    "kill-app-primary": Step("the application (gunicorn) SIGKILLed on the primary", "primary",
                             _kill("gunicorn"), None),
    "kill-apache-primary": Step("Apache SIGKILLed on the primary", "primary",
                                _kill("apache2"), None),
    "public-link-primary": Step("the primary's public link cut", "primary",
                                _link("public", False), _link("public", True)),
    "interconnect-cut": Step("the interconnect cut between the nodes", "primary",
                             _cut(("interconnect",)), _heal),
    "partition": Step("silent partition between the nodes (both networks)", "primary",
                      _cut(("interconnect", "public")), _heal),
    "power-cut-standby": Step("power cut of the standby", "standby", _power_cut, _start, 5),
    "switchover": Step("planned switchover to the standby", "primary", _switchover, None, 0),
    "restart-agent-standby": Step("the standby's agent restarted (systemctl restart, as a new "
                                  "hapair or a changed config does)", "standby",
                                  lambda c: faults.restart(c.plan, c.node, "hapair-agent"),
                                  None, 0, moves=False),
    "reboot-standby": Step("the standby rebooted as `hapair reboot` does (maintenance, a "
                           "clean reboot, back as a complete replica, maintenance off)",
                           "standby", _reboot(False), None, 0, moves=False, takes_s=45),
    "rolling-reboot": Step("every node rebooted in turn as `hapair reboot --all` does (the "
                           "standby, then the primary, switched away from first)", "standby",
                           _reboot(True), None, 0, takes_s=90),
    "monitor-holds-primary": Step("power cut of the primary while a monitoring host replays "
                                  "the standby's /status as the primary", "primary",
                                  _monitor.fault, _monitor.recover, 5),
    "commits-stuck-primary": Step("FLUSH TABLES WITH READ LOCK held on the primary's MariaDB "
                                  "for 20 s: it answers, and commits nothing", "primary",
                                  lambda c: faults.hold_commits(c.plan, c.node),
                                  lambda c: faults.release_commits(c.plan, c.node), 20),
    "slow-clients": Step("100 slow uploads and 100 slow request headers from another client "
                         "host, across the VIP and both nodes' own addresses, for 60 s",
                         "primary", _slow.fault, _slow.recover, ABUSE_S, moves=False),
    "login-flood": Step("1,000 wrong passwords a minute against each public address from "
                        "another client host, for 60 s, while the demo user signs in",
                        "primary", _logins.fault, _logins.recover, ABUSE_S, moves=False),
    "spoof-vrrp": Step("forged VRRP adverts from another client host for 60 s: each node's "
                       "resignation and the other's claim, \"from\" either address of the "
                       "other", "primary", _adverts.fault, _adverts.recover, ABUSE_S,
                       moves=False),
    "freeze-agent-primary": Step("the primary's agent frozen (SIGSTOP), its database writable",
                                 "primary", _signal("hapair", "STOP"), _signal("hapair", "CONT"),
                                 4),
    "freeze-agent-primary-30s": Step("the primary's agent frozen (SIGSTOP) for 30 s", "primary",
                                     _signal("hapair", "STOP"), _signal("hapair", "CONT"), 30),
    "freeze-machine-primary": Step("every process of the primary's machine frozen (as a "
                                   "hypervisor pause), then resumed", "primary", _freeze, _thaw,
                                   8),
    "fence-device-down-power-cut-primary": Step(
        "the primary's fence device unreachable, then its power cut: no promotion without a "
        "confirmed fence", "primary", _device_down_power_cut, _device_up, 8, fenced=True),
    "nic-cut-primary": Step("the active member of the primary's public bond cut (its bond "
                            "carries on: no failover)", "primary", _nic_cut, _nics_back, 5,
                            needs="public-bond"),
    "disk-fail-primary": Step("a RAID member of the primary fails under load (the array runs "
                              "degraded), then a blank disk replaces it and rebuilds",
                              "primary", _disk_fail, _disk_replace, 6, needs="raid"),
    "power-cut-witness": Step("power cut of the witness", "primary", _witness_off, _witness_on,
                              5, witness=True),
    "partition-witness": Step("the witness cut from both nodes", "primary", _cut_witness, _heal,
                              5, witness=True),
    "isolate-primary": Step("the primary cut from the standby and the witness", "primary",
                            _isolate, _heal, 5, witness=True),
    "standby-out-60s": Step("power cut of the standby for 60 s", "standby", _power_cut, _start,
                            60, witness=True),
    "kill-etcd-primary": Step("etcd SIGKILLed on the primary (an etcd leader change when it "
                              "led)", "primary", _kill("etcd"), None, witness=True),
    "witness-then-standby": Step("power cut of the witness, then of the standby: no majority, "
                                 "writes pause", "standby", _witness_then_node, _both_on, 8,
                                 witness=True),
    **{c.name: _change_step(c) for c in CHANGES},
}

# What random sequences pick from: the faults a seed has always meant (a new
# fault added here would change every seed's sequence).
ADDED_LATER = ("monitor-holds-primary", "commits-stuck-primary", "slow-clients", "login-flood",
               "spoof-vrrp", "restart-agent-standby", "reboot-standby", "rolling-reboot",
               *(c.name for c in CHANGES))
RANDOM_POOL = tuple(n for n in STEPS if not n.startswith("freeze-") and not STEPS[n].fenced
                    and not STEPS[n].witness and not STEPS[n].needs and n not in ADDED_LATER)

SCENARIOS: dict[str, Scenario] = {
    name: Scenario(name, step.what, (step,)) for name, step in STEPS.items()
}


def random_scenario(seed: int, count: int = 3) -> Scenario:
    """A reproducible sequence of faults, recovery in between."""
    rng = random.Random(seed)
    names = sorted(RANDOM_POOL)
    picked = [rng.choice(names) for _ in range(count)]
    return Scenario(f"random-{seed}", "random: " + ", then ".join(picked),
                    tuple(STEPS[n] for n in picked))
