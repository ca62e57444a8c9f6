"""The lab's VMs as commands: QEMU's arguments and the root filesystem's
recipe (pure); booting one is a lab test (tests/lab/test_m2l.py)."""

from __future__ import annotations

from pathlib import Path

from hapair.lab import rootfs, vm
from hapair.lab.plan import plan_lab
from hapair.spec import ClusterSpec


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_qemu_gets_the_spec_nics_in_order_then_mgmt(lab_m2l: ClusterSpec) -> None:
    plan = plan_lab(lab_m2l)
    node2 = plan.machine("node2")
    argv = vm.argv(plan, node2, rootfs.Image(Path("/cache/x")))
    netdevs = [d.split(",")[1] for d in _pairs(argv, "-netdev")]
    assert netdevs == ["id=vm1-ic0", "id=vm1-ic1", "id=vm1-pub0", "id=vm1-pub1", "id=tm-node2"]
    macs = [d.rsplit("mac=", 1)[1] for d in _pairs(argv, "-device") if "virtio-net" in d]
    assert len(set(macs)) == 5 and macs[-1] == vm.mgmt_mac(node2) == "52:54:00:15:00:04"
    # the root disk first (/dev/vda), then the data disks with ids the faults unplug
    blk = [d for d in _pairs(argv, "-device") if d.startswith("virtio-blk")]
    assert blk == ["virtio-blk-pci,drive=root",
                   "virtio-blk-pci,drive=drv0,id=disk0,serial=data0",
                   "virtio-blk-pci,drive=drv1,id=disk1,serial=data1"]
    assert "root=/dev/vda" in _pairs(argv, "-append")[0]
    assert _pairs(argv, "-accel") == ["tcg,thread=multi"]  # no nested KVM here
    # found again after a crash: an argument under the machine's folder
    assert any(a.startswith(f"{plan.state_dir}/machines/node2/") for a in argv)


def test_the_mgmt_nic_is_matched_by_its_mac(lab_m2l: ClusterSpec) -> None:
    plan = plan_lab(lab_m2l)
    taps = vm.taps(plan, plan.machine("node1"))
    assert taps[-1] == ("tm-node1", "br-mgmt")
    assert [b for _, b in taps[:-1]] == ["br-ic", "br-ic", "br-pub", "br-pub"]


def test_the_image_key_follows_what_goes_in() -> None:
    one = rootfs.recipe()
    assert "mariadb-server" in one.packages and "linux-image-amd64" in one.packages
    assert rootfs.recipe().key == one.key  # cached: the same list, the same image
    assert rootfs.recipe(("htop",)).key != one.key  # a changed list builds anew
    assert list(one.packages) == sorted(set(one.packages))


def test_a_release_for_containers_is_a_folder_without_a_kernel() -> None:
    folder = rootfs.recipe(suite="trixie", image=False)
    assert folder.suite == "trixie" and not folder.image
    assert "mariadb-server" in folder.packages and "openssh-server" in folder.packages
    assert "linux-image-amd64" not in folder.packages
    assert folder.key != rootfs.recipe(suite="trixie").key  # the VM image of the same release
