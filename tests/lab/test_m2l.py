"""The guide's own cluster (examples/lab-m2l.toml) on a real kernel: two QEMU
machines booting Debian's kernel, with the guide's bonds and RAID 1.

CI runs the machines' layer (`apply --only host`: the bonding and RAID steps
for real) and their faults. The whole stack under software emulation takes
minutes to apply: bench/m2l.py runs it with the drills, for the figures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from hapair.probes import bonding, mdstat
from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, lab_of, own

M2L = own(EXAMPLES / "lab-m2l.toml")
NODES = ("node1", "node2")
T = TypeVar("T")


@pytest.fixture(scope="module")
def vlab() -> Iterator[Lab]:
    yield from lab_of(M2L, "--no-deploy")


def bond(vlab: Lab, node: str, name: str) -> bonding.Bond:
    return bonding.parse(name, vlab.sh(node, f"cat /proc/net/bonding/{name}"))


def md0(vlab: Lab, node: str) -> mdstat.Array:
    (array,) = [a for a in mdstat.parse(vlab.sh(node, "cat /proc/mdstat")) if a.name == "md0"]
    return array


def until(what: str, probe: Callable[[], T], ok: Callable[[T], bool], seconds: float) -> T:
    deadline = time.monotonic() + seconds
    while True:
        seen = probe()
        if ok(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {seconds:g}s; last seen: {seen}")
        time.sleep(0.5)


def fault(vlab: Lab, *args: str) -> str:
    r = vlab.hapair("lab", "fault", *args[:1], str(M2L), *args[1:], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_apply_builds_the_guides_bonds_and_raid(vlab: Lab) -> None:
    r = vlab.hapair("lab", "apply", str(M2L), "--only", "host", timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    for node in NODES:
        public = bond(vlab, node, "bond1")
        assert public.active_backup and public.active == "eth2", public
        assert [(s.name, s.up) for s in sorted(public.slaves, key=lambda s: s.name)] == [
            ("eth2", True), ("eth3", True)]
        inter = bond(vlab, node, "bond0")
        assert "round-robin" in inter.mode and all(s.up for s in inter.slaves), inter
        array = md0(vlab, node)
        assert (array.level, array.wanted, array.working) == ("raid1", 2, 2), array
        assert vlab.sh(node, "findmnt -n -o SOURCE /srv/data").strip() == "/dev/md0"
        assert "/dev/md0" in vlab.sh(node, "cat /etc/mdadm/mdadm.conf")
    # the nodes reach each other over both bonds
    vlab.sh("node1", "ping -c1 -W2 192.168.57.103 && ping -c1 -W2 10.54.0.11")


def test_a_second_apply_leaves_a_made_array_alone(vlab: Lab) -> None:
    before = vlab.sh("node1", "mdadm --detail /dev/md0 | grep UUID").strip()
    vlab.sh("node1", "echo kept > /srv/data/kept")
    r = vlab.hapair("lab", "apply", str(M2L), "--only", "host", timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert vlab.sh("node1", "mdadm --detail /dev/md0 | grep UUID").strip() == before
    assert vlab.sh("node1", "cat /srv/data/kept").strip() == "kept"


def test_a_pulled_cable_moves_the_bond_to_its_other_member(vlab: Lab) -> None:
    fault(vlab, "nic-down", "node1", "eth2")
    try:
        after = until("bond1 on eth3", lambda: bond(vlab, "node1", "bond1"),
                      lambda b: b.active == "eth3", 10)
        assert [s.up for s in after.slaves if s.name == "eth2"] == [False]
        assert after.carrying
        vlab.sh("node1", "ping -c1 -W2 10.54.0.11")  # the public network still answers
    finally:
        fault(vlab, "nic-up", "node1", "eth2")
    back = until("bond1 back on its primary eth2", lambda: bond(vlab, "node1", "bond1"),
                 lambda b: b.active == "eth2" and all(s.up for s in b.slaves), 10)
    assert back.carrying


def test_both_cables_pulled_leave_the_bond_without_a_path(vlab: Lab) -> None:
    fault(vlab, "link-down", "node1", "public")
    try:
        cut = until("bond1 with no member up", lambda: bond(vlab, "node1", "bond1"),
                    lambda b: not any(s.up for s in b.slaves), 10)
        assert not cut.carrying
        assert vlab.exec("node1", "ping", "-c1", "-W1", "10.54.0.11").returncode != 0
    finally:
        fault(vlab, "link-up", "node1", "public")
    until("bond1 up again", lambda: bond(vlab, "node1", "bond1"), lambda b: b.carrying, 10)
    vlab.sh("node1", "ping -c1 -W2 10.54.0.11")


def test_a_failed_disk_degrades_the_array_and_a_new_one_rebuilds_it(vlab: Lab) -> None:
    vlab.sh("node2", "dd if=/dev/urandom of=/srv/data/blob bs=1M count=8 conv=fsync 2>/dev/null")
    digest = vlab.sh("node2", "sha256sum /srv/data/blob")
    fault(vlab, "disk-fail", "node2", "/dev/vdc")
    degraded = until("md0 degraded", lambda: md0(vlab, "node2"), lambda a: a.working == 1, 30)
    assert degraded.wanted == 2
    # the node keeps its data and keeps writing
    assert vlab.sh("node2", "sha256sum /srv/data/blob") == digest
    vlab.sh("node2", "echo still > /srv/data/after-fail && sync")
    fault(vlab, "disk-replace", "node2", "/dev/vdc")
    rebuilt = until("md0 rebuilt", lambda: md0(vlab, "node2"),
                    lambda a: a.working == 2 and not a.action, 300)
    assert rebuilt.wanted == 2 and not any(m.failed for m in rebuilt.members), rebuilt
    assert vlab.sh("node2", "sha256sum /srv/data/blob") == digest
    assert "vdc" in {m.name for m in rebuilt.members}


def test_nic_and_disk_faults_name_what_is_wrong(vlab: Lab) -> None:
    r = vlab.hapair("lab", "fault", "nic-down", str(M2L), "node1", "eth9")
    assert r.returncode != 0 and "eth0, eth1, eth2, eth3" in r.stderr
    r = vlab.hapair("lab", "fault", "disk-fail", str(M2L), "node1", "/dev/vdz")
    assert r.returncode != 0 and "/dev/vdb, /dev/vdc" in r.stderr
