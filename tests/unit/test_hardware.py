"""The bonds' and RAID arrays' parsers on the kernel's own reports (captured
from Debian's kernel 6.1 under QEMU: tests/fixtures/hardware), and what the
agent makes of them: problems in words, the VIP's link, alerts on change."""

from __future__ import annotations

from pathlib import Path

import pytest

from hapair.agent.core import hardware
from hapair.agent.core.hardware import Hardware
from hapair.agent.node import observe
from hapair.probes import bonding, mdstat

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "hardware"


def bond(name: str, capture: str) -> bonding.Bond:
    return bonding.parse(name, (FIX / f"{capture}.txt").read_text())


def arrays(capture: str) -> list[mdstat.Array]:
    return mdstat.parse((FIX / f"{capture}.txt").read_text())


def test_an_active_backup_bond_whole_then_one_slave_then_both_cut() -> None:
    whole = bond("bond1", "bond1-healthy")
    assert (whole.active_backup, whole.active, whole.carrying, whole.failed) == (
        True, "eth0", True, ())
    assert [s.name for s in whole.slaves] == ["eth0", "eth1"]
    one = bond("bond1", "bond1-eth0-down")
    assert (one.active, one.carrying, one.failed) == ("eth1", True, ("eth0",))
    assert one.slaves[0].failures >= 1
    both = bond("bond1", "bond1-both-down")
    assert (both.carrying, set(both.failed)) == (False, {"eth0", "eth1"})


def test_a_round_robin_bond_has_no_active_slave_and_carries_on_what_is_up() -> None:
    whole = bond("bond0", "bond0-healthy")
    assert (whole.active_backup, whole.active, whole.carrying) == (False, "", True)
    cut = bond("bond0", "bond0-eth2-down")
    assert (cut.carrying, cut.failed) == (True, ("eth2",))


def test_text_that_is_not_a_bond_s_report_is_refused() -> None:
    with pytest.raises(ValueError, match="bond9"):
        bonding.parse("bond9", "cat: /proc/net/bonding/bond9: No such file or directory\n")


def test_a_raid1_made_resynced_failed_and_rebuilt() -> None:
    assert arrays("mdstat-empty") == []
    made = arrays("mdstat-resync")[0]
    assert (made.name, made.level, made.wanted, made.working) == ("md0", "raid1", 2, 2)
    healthy = arrays("mdstat-healthy")[0]
    assert (healthy.degraded, healthy.action, healthy.failed) == (False, "", ())
    failed = arrays("mdstat-degraded")[0]
    assert (failed.degraded, failed.failed, failed.working) == (True, ("vdc",), 1)
    rebuilt = arrays("mdstat-rebuilt")[0]
    assert not rebuilt.degraded and [m.name for m in rebuilt.members] == ["vdd", "vdb"]


def test_a_resync_and_a_recovery_show_their_progress() -> None:
    made = arrays("mdstat-resync")[0]
    assert (made.degraded, made.action, made.progress) == (False, "resync", 3.9)
    assert hardware.array_problem(made) == "md0 resync 3.9%"
    filling = arrays("mdstat-recovery")[0]
    assert (filling.degraded, filling.action, filling.progress) == (True, "recovery", 18.7)
    assert hardware.array_problem(filling) == "md0 degraded [2/1], recovery 18.7%"
    # A percentage that moves is not news; the array whole again is.
    before = Hardware(arrays=(filling,))
    assert hardware.alerts(before, Hardware(arrays=(filling,))) == []
    assert hardware.alerts(before, Hardware(arrays=tuple(arrays("mdstat-rebuilt")))) == [
        ("restored", "md0 is whole again")]


def test_problems_the_vip_s_link_and_alerts_on_each_change() -> None:
    whole = Hardware(bonds=(bond("bond1", "bond1-healthy"),),
                     arrays=tuple(arrays("mdstat-healthy")))
    cut = Hardware(bonds=(bond("bond1", "bond1-eth0-down"),), arrays=whole.arrays)
    dead = Hardware(bonds=(bond("bond1", "bond1-both-down"),),
                    arrays=tuple(arrays("mdstat-degraded")))
    assert hardware.problems(whole) == {}
    assert hardware.problems(cut) == {"bond1": "bond1 degraded: eth0 down, active eth1"}
    # One slave left: the node still carries the VIP; none: it may not.
    assert hardware.link_problem(cut, "bond1") == ""
    assert "bond1 has no active slave" in hardware.link_problem(dead, "bond1")
    assert hardware.link_problem(dead, "bond0") == ""
    assert hardware.alerts(None, whole) == []
    assert hardware.alerts(whole, cut) == [("degraded", "bond1 degraded: eth0 down, "
                                            "active eth1")]
    # Worse: bond1 now carries nothing; md0 newly degraded.
    assert [d.split()[0] for _, d in hardware.alerts(cut, dead)] == ["bond1", "md0"]
    assert hardware.alerts(dead, whole) == [("restored", "bond1 is whole again"),
                                            ("restored", "md0 is whole again")]
    missing = Hardware(missing=("bond1",))
    assert "named by the spec" in hardware.problems(missing)["bond1"]
    status = hardware.to_status(dead)
    assert status["bonds"][0]["slaves"] == {"eth0": False, "eth1": False}
    assert status["arrays"][0]["failed"] == ["vdc"]


def test_the_agent_watches_the_guide_s_bonds_and_array_and_nothing_on_a_lab_node() -> None:
    from hapair.agent.core.config import from_spec
    from hapair.spec import load_spec
    from tests.conftest import EXAMPLES

    guide = load_spec(EXAMPLES / "m2l.toml").spec
    cfg = from_spec(guide, guide.nodes[0])
    assert (cfg.bonds, cfg.array, cfg.vip_device) == (("bond0", "bond1"), "md0", "bond1")
    lab = load_spec(EXAMPLES / "lab-pair.toml").spec
    plain = from_spec(lab, lab.nodes[0])
    assert (plain.bonds, plain.array) == ((), "")
    assert observe.hardware(plain.bonds, plain.array) == Hardware()


def test_the_vip_s_link_names_a_bond_that_carries_nothing() -> None:
    from hapair.agent.node import observe

    dead = Hardware(bonds=(bond("bond1", "bond1-both-down"),))
    said = observe.vip_link("bond1", hardware.link_problem(dead, "bond1"))
    assert said == "the VIP's network: bond1 has no active slave (eth0, eth1 down)"
