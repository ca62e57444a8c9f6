"""Fencing in a lab of its own (examples/lab-fence.toml): a simulated BMC per
machine, driven by the real fence_ipmilan. Runs after every other lab test,
on a lab brought up here (one lab at a time on a host)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, own, running, scenarios

FENCED = own(EXAMPLES / "lab-fence.toml")
STOP = "/run/hapair-test-watch.stop"
# On a node, until STOP exists (or 15 minutes): every secret of the agent's
# file looked for in every process's arguments, and in every process's
# environment but the peer's BMC password's in the fence agent's own chain
# (fence_ipmilan, the hapair-ipmitool wrapper, ipmitool -E: where it is
# needed). One line a finding, and one per fence agent process seen ("agent
# PID": a watch that saw none checked nothing), printed as they come: a
# power cut ends the watch with its machine. A grep of a file of the
# values: no secret on a command line here either.
WATCH = r"""umask 077; d=$(mktemp -d); f=/etc/hapair/agent-secrets.env
grep '^HAPAIR_PEER_FENCE_PASSWORD=' $f | cut -d= -f2- | tr -d '"' > $d/bmc
grep -v '^HAPAIR_PEER_FENCE_PASSWORD=' $f | cut -d= -f2- | tr -d '"' | grep . > $d/rest
cat $d/bmc $d/rest > $d/all
test -s $d/bmc && test -s $d/rest || { echo unread; exit 3; }
echo watching; end=$(( $(date +%s) + 900 )); seen=" "
while [ ! -e STOP ] && [ $(date +%s) -lt $end ]; do
  for p in $(pgrep -x 'fence_ipmilan|ipmitool'); do
    case "$seen" in *" $p "*) ;; *) seen="$seen$p "; echo "agent $p";; esac; done
  for x in $(grep -lFf $d/all /proc/[0-9]*/cmdline 2>/dev/null); do
    p=${x#/proc/}; echo "arguments ${p%%/*} $(cat /proc/${p%%/*}/comm 2>/dev/null)"; done
  for x in $(grep -lFf $d/rest /proc/[0-9]*/environ 2>/dev/null); do
    p=${x#/proc/}; echo "environment ${p%%/*} $(cat /proc/${p%%/*}/comm 2>/dev/null)"; done
  for x in $(grep -lFf $d/bmc /proc/[0-9]*/environ 2>/dev/null); do
    p=${x#/proc/}; c=$(cat /proc/${p%%/*}/comm 2>/dev/null)
    case "$c" in fence_ipmilan|hapair-ipmitool|ipmitool|'') ;;
      *) echo "environment ${p%%/*} $c";; esac; done
  sleep 0.1
done
rm -rf $d""".replace("STOP", STOP)


def watch_node(lab: Lab, node: str, outs: list[str], done: threading.Event) -> None:
    """WATCH on a node, started again whenever it ends (a power cut, a
    fence) until the test is done: a machine back up is watched again."""
    while not done.is_set():
        r = subprocess.run([sys.executable, "-m", "hapair", "lab", "exec", str(lab.spec), node,
                            "--", "sh", "-c", WATCH], capture_output=True, text=True,
                           timeout=1200)
        outs.append(r.stdout)
        done.wait(1)


@pytest.fixture(scope="module")
def flab() -> Iterator[Lab]:
    with running(FENCED) as handle:  # the shared lab's turn is over: it goes down first
        yield handle
    assert not Path("/var/lib/hapair/lab/labf").exists()


def test_every_device_answers_its_status(flab: Lab) -> None:
    r = flab.hapair("fence", str(flab.spec), "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Status: ON") == 2


def test_a_device_that_does_not_answer_fails_the_check(flab: Lab) -> None:
    assert flab.hapair("lab", "fault", "bmc-down", str(flab.spec), "node2").returncode == 0
    try:
        r = flab.hapair("fence", str(flab.spec), "--check")
        assert r.returncode == 1 and "did not answer" in r.stderr
    finally:
        assert flab.hapair("lab", "fault", "bmc-up", str(flab.spec), "node2").returncode == 0


def test_the_fenced_drills(flab: Lab, tmp_path: Path) -> None:
    """The scenarios where fencing acts, once each: nothing lost, nothing
    doubled, never two writable nodes (the rest behave as without fencing and
    run against the shared lab)."""
    # (freeze-agent-primary, where the fence may not act, runs on the other two labs.)
    names = ("power-cut-standby", "partition", "power-cut-primary",
             "freeze-machine-primary", "fence-device-down-power-cut-primary")
    for node in ("node1", "node2"):
        flab.exec(node, "rm", "-f", STOP)
    done = threading.Event()
    seen: dict[str, list[str]] = {"node1": [], "node2": []}
    watches = [threading.Thread(target=watch_node, args=(flab, node, outs, done), daemon=True)
               for node, outs in seen.items()]
    for w in watches:
        w.start()
    try:
        summary = flab.drills(tmp_path, *scenarios(*names))
    finally:
        done.set()
        for node in seen:
            flab.exec(node, "touch", STOP)
        for w in watches:
            w.join(60)
    lines = {node: [line for out in outs for line in out.splitlines()]
             for node, outs in seen.items()}
    assert all("watching" in got for got in lines.values()), seen
    # ("unread": a watch started on a machine still booting; the next one reads.)
    found = [f"{node}: {line}" for node, got in lines.items() for line in got
             if line.startswith(("arguments", "environment"))]
    assert not found, found  # names the process, never the value
    agents = [line for got in lines.values() for line in got if line.startswith("agent ")]
    assert agents, seen  # the periodic device checks and the fences: watched
    print(f"watched {len(agents)} fence agent processes: no secret seen")
    assert {row["scenario"] for row in summary} >= {
        "power-cut-standby", "partition", "power-cut-primary", "freeze-machine-primary",
        "fence-device-down-power-cut-primary"}
