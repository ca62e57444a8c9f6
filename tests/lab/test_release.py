"""Nodes unlike the control host: examples/lab-trixie.toml boots both nodes
from Debian 13's own root filesystem (CPython 3.13, MariaDB 11.8, GlusterFS
11), built by the lab with debootstrap, while the control host runs Debian
12's Python 3.11. apply reads each node's Python and ships wheels made for
it; the whole stack runs there and a failover under load keeps every
booking. Its lab is brought up from nothing here, so the first apply is
watched from the client's network too: nothing but the web answers there
before, during or after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hapair.lab.plan import plan_lab
from hapair.lab.sh import in_netns
from hapair.spec import load_spec
from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, is_up, lab_of, own

TRIXIE = own(EXAMPLES / "lab-trixie.toml")
NODES = ("node1", "node2")
VERSION = "import sys; print('%d.%d' % sys.version_info[:2])"


# From the client's network, every 0.2 s, each (host, port) in a thread of
# its own: a line per connection made. The guarded ports (MariaDB, glusterd,
# the first bricks, the agent's API) must never answer; the web must, once
# the cluster is up (a probe that reaches nothing proves nothing).
PROBE = r"""
import json, os, socket, sys, threading, time
out, stop, targets = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lock = threading.Lock()
def one(host, port):
    rounds = 0
    while not os.path.exists(stop):
        s = socket.socket()
        s.settimeout(0.3)
        try:
            s.connect((host, port))
            with lock, open(out, "a") as f:
                f.write(json.dumps({"t": time.time(), "host": host, "port": port}) + "\n")
        except OSError:
            pass
        finally:
            s.close()
        rounds += 1
        time.sleep(0.2)
    with lock, open(out, "a") as f:
        f.write(json.dumps({"rounds": rounds, "host": host, "port": port}) + "\n")
ts = [threading.Thread(target=one, args=t) for t in targets]
with open(out, "a") as f:
    f.write(json.dumps({"began": time.time()}) + "\n")
[t.start() for t in ts]
[t.join() for t in ts]
"""
WEB = (80, 443)


class FirstApplyProbe:
    """PROBE run in the lab's client namespace as soon as the lab makes it."""

    def __init__(self, spec: Path, out: Path):
        cluster = load_spec(spec).spec
        self.netns = plan_lab(cluster).client.name
        hosts = [str(n.public) for n in cluster.nodes]
        guarded = (3306, 24007, 24008, 49152, 49153, cluster.agent.port)
        self.targets = [(h, p) for h in hosts for p in guarded] + [
            (str(cluster.vip.address), p) for p in WEB]
        self.out, self.stop_file = out, out.with_suffix(".stop")
        self.proc: subprocess.Popen[bytes] | None = None
        self.thread = threading.Thread(target=self._start, daemon=True)

    def _start(self) -> None:
        deadline = time.monotonic() + 900
        while not os.path.exists(f"/run/netns/{self.netns}"):
            if self.stop_file.exists() or time.monotonic() > deadline:
                return
            time.sleep(0.1)
        self.proc = subprocess.Popen(in_netns(self.netns, [
            sys.executable, "-c", PROBE, str(self.out), str(self.stop_file),
            json.dumps(self.targets)]))

    def stop(self) -> list[dict[str, object]]:
        self.stop_file.touch()
        self.thread.join(5)
        if self.proc is not None:
            self.proc.wait(10)
        lines = self.out.read_text().splitlines() if self.out.exists() else []
        return [json.loads(line) for line in lines]


PROBED: dict[str, object] = {}


@pytest.fixture(scope="module")
def tlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    probe = FirstApplyProbe(TRIXIE, tmp_path_factory.mktemp("first-apply") / "probe.jsonl")
    if not is_up(TRIXIE):
        probe.thread.start()
    try:
        for handle in lab_of(TRIXIE):
            if probe.thread.is_alive() or probe.proc is not None:
                time.sleep(3)  # and a moment after
                PROBED.update(up=time.time(), found=probe.stop())
            yield handle
    finally:
        probe.stop_file.touch()  # a lab that failed to come up stops the probe too


def test_a_client_reaches_nothing_but_the_web_before_during_and_after_the_first_apply(
        tlab: Lab) -> None:
    if not PROBED:
        pytest.skip("the lab was up already: its first apply was not watched")
    found: list[dict[str, object]] = PROBED["found"]  # type: ignore[assignment]
    began = [r["began"] for r in found if "began" in r]
    rounds = {(r["host"], r["port"]): r["rounds"] for r in found if "rounds" in r}
    opened = [r for r in found if "t" in r]
    guarded = [r for r in opened if r["port"] not in WEB]
    web = sorted(r["t"] for r in opened if r["port"] in WEB)  # type: ignore[type-var]
    assert began and rounds and min(rounds.values()) >= 50, rounds  # type: ignore[type-var]
    assert not guarded, guarded[:10]
    # The web answered once the cluster was up, and the watch began well before.
    assert web and began[0] < web[0] - 30, (began, web[:3])


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
