"""Nodes unlike the control host: examples/lab-trixie.toml boots both nodes
from Debian 13's own root filesystem (CPython 3.13, MariaDB 11.8, GlusterFS
11), built by the lab with debootstrap, while the control host runs Debian
12's Python 3.11. apply reads each node's Python and ships wheels made for
it; the whole stack runs there and a failover under load keeps every
booking."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, lab_of, own

TRIXIE = own(EXAMPLES / "lab-trixie.toml")
NODES = ("node1", "node2")
VERSION = "import sys; print('%d.%d' % sys.version_info[:2])"


@pytest.fixture(scope="module")
def tlab() -> Iterator[Lab]:
    yield from lab_of(TRIXIE)


def test_the_nodes_run_their_own_python_with_wheels_made_for_it(tlab: Lab) -> None:
    if sys.version_info[:2] == (3, 13):
        pytest.skip("this host runs CPython 3.13 itself: the nodes' Python is not another one")
    for node in NODES:
        assert tlab.sh(node, "cat /etc/debian_version").startswith("13")
        assert tlab.sh(node, f'/usr/bin/python3 -c "{VERSION}"').strip() == "3.13"
        agent = tlab.sh(node, "/opt/hapair/venv/bin/python -c "
                              "'import pydantic_core, sys; print(pydantic_core.__file__)'")
        assert "pydantic_core" in agent and "python3.13" in agent
        compiled = tlab.sh(node, "ls /opt/hapair/venv/lib/python3.13/site-packages/pydantic_core")
        assert "cpython-313" in compiled  # the binary part built for 3.13
        app = tlab.sh(node, "/opt/hapair/app/bin/python -c "
                            "'import sqlalchemy, sys; print(sys.version_info[:2])'")
        assert app.strip() == "(3, 13)"


def test_a_power_cut_of_the_primary_there_keeps_every_booking(tlab: Lab, tmp_path: Path) -> None:
    tlab.drills(tmp_path, "--scenario", "power-cut-primary")
