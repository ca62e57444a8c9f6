"""The fault primitives drills are built from, each undone afterwards.

These run after test_cluster (file order) because they disturb the lab; each
restores what it broke before it ends."""

from __future__ import annotations

import time

from tests.lab.conftest import Lab


def test_partition_on_one_network_and_heal(lab: Lab) -> None:
    assert lab.reach("node2", "192.168.57.102")
    cut = lab.hapair("lab", "fault", "partition", str(lab.spec), "node1", "node2",
                     "--network", "interconnect")
    assert cut.returncode == 0, cut.stderr
    try:
        assert not lab.reach("node2", "192.168.57.102")
        assert lab.reach("node2", "10.54.0.10")  # the public network still works
    finally:
        assert lab.hapair("lab", "fault", "heal", str(lab.spec)).returncode == 0
    assert lab.reach("node2", "192.168.57.102")


def test_link_down_and_up(lab: Lab) -> None:
    assert lab.hapair("lab", "fault", "link-down", str(lab.spec), "node2", "public"
                      ).returncode == 0
    try:
        assert not lab.reach("client", "10.54.0.11", 22)
    finally:
        assert lab.hapair("lab", "fault", "link-up", str(lab.spec), "node2", "public"
                          ).returncode == 0
    deadline = time.monotonic() + 10
    while not lab.reach("client", "10.54.0.11", 22):
        assert time.monotonic() < deadline, "node2's public link did not come back"
        time.sleep(0.2)


def test_kill_a_process(lab: Lab) -> None:
    before = lab.sh("node2", "pgrep -x apache2").split()
    r = lab.hapair("lab", "fault", "kill", str(lab.spec), "node2", "apache2")
    assert r.returncode == 0 and f"({len(before)} processes)" in r.stdout
    after = lab.exec("node2", "pgrep", "-x", "apache2").stdout.split()
    assert not set(before) & set(after)  # every one of them is gone
    lab.sh("node2", "systemctl restart apache2")


def test_power_cut_and_start(lab: Lab) -> None:
    cut = lab.hapair("lab", "fault", "power-cut", str(lab.spec), "node2")
    assert cut.returncode == 0, cut.stderr
    status = lab.hapair("lab", "status", str(lab.spec)).stdout
    assert "node2" in status and "stopped" in status
    start = lab.hapair("lab", "fault", "start", str(lab.spec), "node2")
    assert start.returncode == 0, start.stderr
    # The disk survived the power cut: the node comes back as it was.
    assert lab.sh("node2", "hostname").strip() == "node2"
    assert lab.sh("node2", "mariadb -N -e 'SELECT @@server_id, @@read_only'").split() == ["2", "1"]
