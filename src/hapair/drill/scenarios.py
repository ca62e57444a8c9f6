"""Fault scenarios as a table: what to break, on which node, how it comes back."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path

from hapair.drill.abuse import ABUSE_S, ADVERTS, LOGINS, MONITOR, SLOW, Attack
from hapair.drill.changes import CHANGES, Change, changed_path, changed_text, lab_apply
from hapair.drill.mail import MAIL
from hapair.drill.scenario import Ctx, Fn, Scenario, Step, start
from hapair.lab import faults


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


ACKS_LOST_S = 1.0  # the standby's acknowledgements lost this long before the cut


def _acks_lost_then_cut(c: Ctx) -> object:
    """The standby's packets to the primary's MariaDB on the interconnect
    dropped (commits reach it, their acknowledgements do not), then the
    interconnect cut: the standby reconnects over the public network from
    what it has, and nothing sends those commits again."""
    spec = c.agents.spec
    faults.drop_to(c.plan, c.peer, str(spec.node(c.node).interconnect), spec.database.port)
    time.sleep(ACKS_LOST_S)
    return faults.partition(c.plan, c.node, c.peer, ("interconnect",))


def _heal_acks(c: Ctx) -> object:
    faults.heal(c.plan)
    faults.undrop(c.plan, c.peer)
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
    return start(c)


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
    "power-cut-primary": Step("power cut of the primary", "primary", _power_cut, start, 5),
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
    "acks-lost-then-cut": Step("the standby's acknowledgements lost for 1 s, then the "
                               "interconnect cut", "primary", _acks_lost_then_cut, _heal_acks),
    "partition": Step("silent partition between the nodes (both networks)", "primary",
                      _cut(("interconnect", "public")), _heal),
    "power-cut-standby": Step("power cut of the standby", "standby", _power_cut, start, 5),
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
                                  MONITOR.fault, MONITOR.recover, 5),
    "commits-stuck-primary": Step("FLUSH TABLES WITH READ LOCK held on the primary's MariaDB "
                                  "for 20 s: it answers, and commits nothing", "primary",
                                  lambda c: faults.hold_commits(c.plan, c.node),
                                  lambda c: faults.release_commits(c.plan, c.node), 20),
    "slow-clients": Step("100 slow uploads and 100 slow request headers from another client "
                         "host, across the VIP and both nodes' own addresses, for 60 s",
                         "primary", SLOW.fault, SLOW.recover, ABUSE_S, moves=False),
    "login-flood": Step("1,000 wrong passwords a minute against each public address from "
                        "another client host, for 60 s, while the demo user signs in",
                        "primary", LOGINS.fault, LOGINS.recover, ABUSE_S, moves=False),
    "spoof-vrrp": Step("forged VRRP adverts from another client host for 60 s: each node's "
                       "resignation and the other's claim, \"from\" either address of the "
                       "other", "primary", ADVERTS.fault, ADVERTS.recover, ABUSE_S,
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
                              5, witness=True, moves=False),
    "partition-witness": Step("the witness cut from both nodes", "primary", _cut_witness, _heal,
                              5, witness=True, moves=False),
    "isolate-primary": Step("the primary cut from the standby and the witness", "primary",
                            _isolate, _heal, 5, witness=True),
    "standby-out-60s": Step("power cut of the standby for 60 s", "standby", _power_cut, start,
                            60, witness=True, moves=False),
    "kill-etcd-primary": Step("etcd SIGKILLed on the primary (an etcd leader change when it "
                              "led)", "primary", _kill("etcd"), None, witness=True,
                              moves=False),
    "witness-then-standby": Step("power cut of the witness, then of the standby: no majority, "
                                 "writes pause", "standby", _witness_then_node, _both_on, 8,
                                 witness=True, moves=False),
    "mail-failover": Step("the site sends mail (an SMTP server on the client network) and the "
                          "primary's power is cut while its senders send: every mail owed "
                          "delivered, one sent twice the same mail", "primary", MAIL.fault,
                          MAIL.recover, 5, takes_s=300),
    **{c.name: _change_step(c) for c in CHANGES},
}

# What random sequences pick from: the faults a seed has always meant (a new
# fault added here would change every seed's sequence).
ADDED_LATER = ("monitor-holds-primary", "commits-stuck-primary", "slow-clients", "login-flood",
               "spoof-vrrp", "restart-agent-standby", "reboot-standby", "rolling-reboot",
               "mail-failover", "acks-lost-then-cut", *(c.name for c in CHANGES))
RANDOM_POOL = tuple(n for n in STEPS if not n.startswith("freeze-") and not STEPS[n].fenced
                    and not STEPS[n].witness and not STEPS[n].needs and n not in ADDED_LATER)

SCENARIOS: dict[str, Scenario] = {
    name: Scenario(name, step.what, (step,)) for name, step in STEPS.items()
}


#: The scenarios that are attack traffic, and the attack each runs.
ATTACKS: dict[str, Attack] = {"slow-clients": SLOW, "login-flood": LOGINS,
                              "spoof-vrrp": ADVERTS}


def attack_for(scenario: Scenario, seconds: float) -> Scenario:
    """An attack scenario whose attack lasts this long (`--attack-s`: CI's
    are 30 s; the drills' figures are 60 s); any other scenario as it is."""
    attack = ATTACKS.get(scenario.name)
    if attack is None:
        return scenario
    shorter = Attack(attack.args, seconds, attack.more)
    (step,) = scenario.steps
    what = step.what.replace(f"for {ABUSE_S:g} s", f"for {seconds:g} s")
    return Scenario(scenario.name, what, (replace(
        step, what=what, fault=shorter.fault, recover=shorter.recover, hold_s=seconds),))


def random_scenario(seed: int, count: int = 3) -> Scenario:
    """A reproducible sequence of faults, recovery in between."""
    rng = random.Random(seed)
    names = sorted(RANDOM_POOL)
    picked = [rng.choice(names) for _ in range(count)]
    return Scenario(f"random-{seed}", "random: " + ", then ".join(picked),
                    tuple(STEPS[n] for n in picked))
