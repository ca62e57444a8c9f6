from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import pytest

from hapair.lab.net import partition_rules
from hapair.lab.plan import CONTAINER, VM, LabPlanError, client_address, plan_lab
from hapair.spec import ClusterSpec


def test_lab_plan_of_the_lab_spec(lab: ClusterSpec) -> None:
    plan = plan_lab(lab)
    assert plan.core == "hapair-pair"
    assert [m.name for m in plan.machines] == ["node1", "node2"]
    assert plan.link("node2", "public").outside == "vm1-pub"
    assert plan.link("node1", "interconnect").inside == "ic0"
    assert plan.client.link.address == IPv4Interface("10.54.0.254/24")
    names = [link.outside for m in plan.machines for link in m.links]
    assert all(len(n) <= 15 for n in names) and len(set(names)) == len(names)


def test_the_guides_spec_needs_lab_addresses(m2l: ClusterSpec) -> None:
    with pytest.raises(LabPlanError, match="management network"):
        plan_lab(m2l)


def test_bonds_and_raid_make_vms_with_a_nic_per_bond_member(lab_m2l: ClusterSpec) -> None:
    plan = plan_lab(lab_m2l)
    node1 = plan.machine("node1")
    assert node1.kind == VM and node1.disks == ("/dev/vdb", "/dev/vdc")
    # the kernel names NICs in the order they are plugged: eth0..eth3, by the spec's names
    assert [x.inside for x in node1.links] == ["eth0", "eth1", "eth2", "eth3"]
    assert [x.network for x in node1.links] == ["interconnect"] * 2 + ["public"] * 2
    assert [x.outside for x in plan.links("node2", "public")] == ["vm1-pub0", "vm1-pub1"]
    names = [x.outside for m in plan.machines for x in m.links]
    assert all(len(n) <= 15 for n in names) and len(set(names)) == len(names)


def test_a_plain_lab_stays_containers(lab: ClusterSpec) -> None:
    assert {m.kind for m in plan_lab(lab).machines} == {CONTAINER}
    assert {m.release for m in plan_lab(lab).machines} == {None}  # over the host's root


def test_a_release_makes_its_nodes_boot_that_release() -> None:
    from hapair.lab import machine, rootfs
    from hapair.spec import load_spec
    from tests.conftest import EXAMPLES

    plan = plan_lab(load_spec(EXAMPLES / "lab-trixie.toml").spec)
    node = plan.machine("node1")
    assert node.kind == CONTAINER and node.release == "trixie"
    assert machine.recipe_of(node) == rootfs.recipe(suite="trixie", image=False)


def test_vm_nics_must_be_eth_in_order(lab_m2l: ClusterSpec) -> None:
    public = lab_m2l.networks.public
    bond = public.bond.model_copy(update={"interfaces": ("eth2", "eth5"), "primary": "eth2"})
    gap = lab_m2l.model_copy(update={"networks": lab_m2l.networks.model_copy(
        update={"public": public.model_copy(update={"bond": bond})})})
    with pytest.raises(LabPlanError, match="eth0 to eth3, each once"):
        plan_lab(gap)
    bond = public.bond.model_copy(update={"interfaces": ("ens3", "ens4"), "primary": "ens3"})
    named = lab_m2l.model_copy(update={"networks": lab_m2l.networks.model_copy(
        update={"public": public.model_copy(update={"bond": bond})})})
    with pytest.raises(LabPlanError, match="'ens3'"):
        plan_lab(named)


def test_vm_disks_are_virtio_after_the_root(lab_m2l: ClusterSpec) -> None:
    storage = lab_m2l.storage.model_copy(update={"devices": ("/dev/sdb", "/dev/sdc")})
    with pytest.raises(LabPlanError, match="storage.devices: .*/dev/vdb, /dev/vdc"):
        plan_lab(lab_m2l.model_copy(update={"storage": storage}))


def test_unknown_machine_is_named(lab: ClusterSpec) -> None:
    with pytest.raises(KeyError, match="machines: node1, node2"):
        plan_lab(lab).machine("node3")


def test_client_takes_a_free_address(lab: ClusterSpec) -> None:
    vip = lab.vip.model_copy(update={"address": IPv4Address("10.54.0.254")})
    assert client_address(lab.model_copy(update={"vip": vip})) == IPv4Interface("10.54.0.253/24")


def test_partition_rules_drop_both_ways() -> None:
    rules = partition_rules([("vm0-pub", "vm1-pub")])
    assert "iifname vm0-pub oifname vm1-pub drop" in rules
    assert "iifname vm1-pub oifname vm0-pub drop" in rules
    assert "hook forward" in rules and "table bridge" in rules


def test_a_witness_is_a_third_machine_on_the_public_network(lab: ClusterSpec) -> None:
    from hapair.spec.models import Witness

    spec = lab.model_copy(update={"witness": Witness(
        name="witness", address="10.54.0.12", ssh="10.99.0.12")})  # type: ignore[arg-type]
    plan = plan_lab(spec)
    w = plan.machine("witness")
    assert str(w.mgmt) == "10.99.0.12"
    (link,) = w.links
    assert link.network == "public" and link.address == IPv4Interface("10.54.0.12/24")
    assert plan.client.link.address != IPv4Interface("10.54.0.12/24")
    off = spec.model_copy(update={"witness": Witness(
        name="witness", address="10.54.0.12", ssh="10.54.0.12")})  # type: ignore[arg-type]
    with pytest.raises(LabPlanError, match="witness.ssh"):
        plan_lab(off)


def test_the_forwarded_ports_follow_the_labs_base(lab: ClusterSpec) -> None:
    """8443 and 8011/8012 by default; another base (the test suite's labs)
    moves them all, so that two labs can be up at once."""
    from hapair.lab.control import forwarded, pages

    assert forwarded(lab) == (8443, 443)
    assert [(port, n.name) for port, n in pages(lab)] == [(8011, "node1"), (8012, "node2")]
    moved = lab.model_copy(update={"lab": lab.lab.model_copy(update={"ports": 18000}),
                                   "web": lab.web.model_copy(update={"tls": "off"})})
    assert forwarded(moved) == (18080, 80)
    assert [port for port, _ in pages(moved)] == [18011, 18012]


def test_a_process_s_children_are_read_from_proc_and_none_once_it_is_gone() -> None:
    """What `lab down` kills before a machine's nspawn: its init, the child
    the host sees (a real child process here)."""
    import os
    import subprocess
    import sys

    from hapair.probes.procs import children

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in children(os.getpid())
    assert children(2**22 + 1) == []  # no such process
