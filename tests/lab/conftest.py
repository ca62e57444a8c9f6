"""One lab for all lab tests: brought up once, torn down at the end, and the
teardown checked: nothing of it may be left on the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from hapair.drill import checker
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

# The test suite's labs are the examples under names and host ports of their
# own ("test-" and the name; ports from 18000: 18443, 18011, 18012), so that
# `make test` leaves a running demo (examples/lab.toml) alone. Each lab lives
# in network namespaces named after it: only the host's ports could collide.
TEST_PORTS = 18000


def own(example: Path) -> Path:
    """The test suite's copy of an example spec, written beside it (its
    paths are relative to its folder; examples/.*.toml is not tracked)."""
    doc = tomlkit.parse(example.read_text())
    doc["name"] = f"test-{doc['name']}"
    if "lab" not in doc:
        doc["lab"] = tomlkit.table()
    doc["lab"]["ports"] = TEST_PORTS  # type: ignore[index]
    copy = example.with_name(f".test-{example.stem}.toml")
    copy.write_text(tomlkit.dumps(doc))
    return copy


SPEC = own(EXAMPLES / "lab-pair.toml")


# The shared lab's history matters: the tests that assume node1 is the primary
# run first, the failovers after them, the drills last.
ORDER = ("test_cluster.py", "test_faults.py", "test_controller.py", "test_restore.py",
         "test_drills.py", "test_fencing.py", "test_witness.py", "test_release.py",
         "test_m2l.py")
# Every lab spec the tests bring up (one lab at a time on a host).
SPECS = (SPEC, *(own(EXAMPLES / f"{n}.toml") for n in ("lab-fence", "lab", "lab-trixie",
                                                      "lab-m2l")))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.fspath.basename
        return ORDER.index(name) if "tests/lab/" in str(item.fspath) and name in ORDER else -1

    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
    items.sort(key=rank)


@dataclass(frozen=True)
class Lab:
    spec: Path

    @property
    def name(self) -> str:
        """The cluster's name (the spec's)."""
        return load_spec(self.spec).spec.name

    def hapair(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hapair", *args], capture_output=True,
                              text=True, timeout=timeout)

    def exec(self, target: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.hapair("lab", "exec", str(self.spec), target, "--", *argv, timeout=60)

    def evidence(self, nodes: tuple[str, ...] = ("node1", "node2")) -> str:
        """The agents' last log lines and MariaDB's replication notes, for a
        failure message: what a test saw is rarely enough to say why."""
        script = ("journalctl -u hapair-agent --no-pager -o short-precise -n 25; "
                  "journalctl -u mariadb --no-pager -o cat | grep -iE 'semi|dump|ack' | tail -12; "
                  "mariadb -N -e \"SHOW STATUS LIKE 'Rpl_semi_sync%'\" | tr '\\n\\t' '; '")
        return "\n".join(f"--- {n}\n{self.exec(n, 'sh', '-c', script).stdout}" for n in nodes)

    def drill(self, out: Path, *choose: str) -> subprocess.CompletedProcess[str]:
        """The chosen scenarios (`hapair drill`'s own arguments) once each,
        under load; its report written (results.json, summary.json)."""
        r = self.hapair("drill", str(self.spec), *choose, "--runs", "1", "--out", str(out),
                        timeout=2400)
        print(r.stdout[-6000:])
        assert (out / "summary.json").exists(), r.stdout[-3000:] + r.stderr[-3000:]
        return r

    def drills(self, out: Path, *choose: str) -> list[dict[str, Any]]:
        """The chosen scenarios once each; every row safe: nothing lost,
        nothing doubled, never two writable nodes, some bookings confirmed."""
        r = self.drill(out, *choose)
        summary: list[dict[str, Any]] = json.loads((out / "summary.json").read_text())
        unsafe = [line for line in r.stdout.splitlines() if "UNSAFE" in line or
                  line.startswith("    ")]
        assert r.returncode == 0, "\n".join(unsafe[:40]) + "\n" + r.stderr[-12000:]
        for row in summary:
            assert (row["lost"], row["double"], row["two_writable"]) == (0, 0, 0), row
            assert row["confirmed"] > 0, row
            # Never two writable is judged on samples: each node was sampled.
            assert row["fewest_samples"] >= checker.MIN_SAMPLES, row
            assert row["safe"], row
        return summary

    def reach(self, source: str, address: str, port: int = 3306) -> bool:
        """Whether source opens a TCP connection to address:port within 2 s."""
        r = self.exec(source, "timeout", "2", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}")
        return r.returncode == 0

    def sh(self, target: str, script: str) -> str:
        r = self.exec(target, "sh", "-c", script)
        assert r.returncode == 0, f"{target}: {script}: {r.stderr}"
        return r.stdout


# After a paused primary resumes, its first write is refused by the lease's
# write gate (agent/node/write_gate.py), before its guard, or systemd's watchdog
# and the stop hook, have set read_only (measured: 0 two-writable samples in
# every run; read_only itself off up to 0.1 s; before the gate 0.0-0.53 s
# writable, longer on a starved host). The bound.
RESUMED_WRITABLE_S = 0.1


def paused_primary_closes_soon_after_it_resumes(lab: Lab, out: Path) -> float:
    """One freeze-machine-primary run: nothing lost or doubled, every node
    sampled, no two writable nodes but for a moment after the resume (the
    pause itself is not judged: the paused node answers nothing), which is
    bounded. The moment, in seconds."""
    lab.drill(out, *scenarios("freeze-machine-primary"))
    (run,) = json.loads((out / "results.json").read_text())
    assert "failed" not in run, (run["failed"], run.get("journal"))
    v, resumed = run["verdict"], run["faults"][0]["recovered"]
    assert (len(v["lost"]), len(v["double"])) == (0, 0), v
    assert min(c for _, c in v["samples"]) >= checker.MIN_SAMPLES, v["samples"]
    assert all(t >= resumed for t in v["two_writable"]), (resumed, v["two_writable"][:5])
    after = max((t - resumed for t in v["two_writable"]), default=0.0)
    flag = max((s for _, s in v["flag_after_resume"]), default=0.0)
    print(f"writable after the resume: {after:.3f}s (read_only off {flag:.3f}s)")
    assert after <= RESUMED_WRITABLE_S, v["two_writable"][-5:]
    # The closing is reported where an operator looks, with its time.
    status = lab.hapair("status", str(lab.spec)).stdout
    assert "self-fence" in status and f"{run['faults'][0]['node']}'s" in status, status
    return after


def leftovers() -> list[str]:
    """What the test suite's labs could leave on the host: namespaces,
    mounts, machines, forwarders, veths (another lab, the demo's, is not
    theirs)."""
    found = []
    if os.path.isdir("/run/netns"):
        found += [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith("hapair-test-")]
    with open("/proc/self/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts
                  if "/hapair/lab/test-" in line]
    ps = subprocess.run(["pgrep", "-af", "systemd-nspawn|qemu-system|TCP-LISTEN:1[0-9]{4}"],
                        capture_output=True, text=True).stdout
    found += [f"process {p}" for p in ps.splitlines()
              if "/hapair/lab/test-" in p or f"TCP-LISTEN:{TEST_PORTS // 1000}" in p]
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    found += [f"link {line.split()[0]}" for line in links.splitlines()
              if line.split()[0].startswith(("vm0-", "vm1-", "vm2-", "vb-", "br-mgmt", "br-pub",
                                             "br-ic"))]
    return found


@contextmanager
def running(spec: Path, *up_args: str) -> Iterator[Lab]:
    """A lab up from nothing for the tests, then down, with nothing left behind
    (and a second `lab down` harmless). Whatever lab an earlier run left up
    goes down first."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    handle = Lab(spec)
    for other in SPECS:
        handle.hapair("lab", "down", str(other))
    up = handle.hapair("lab", "up", str(spec), *up_args, timeout=1500)
    print(up.stdout[-3000:], up.stderr[-3000:])
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield handle
    finally:
        down = handle.hapair("lab", "down", str(spec))
        assert down.returncode == 0, down.stderr
        assert leftovers() == []
        again = handle.hapair("lab", "down", str(spec))
        assert again.returncode == 0, "a second `lab down` must be harmless"


def lab_of(spec: Path, *up_args: str) -> Iterator[Lab]:
    """A lab of this spec, from nothing. HAPAIR_LAB_REUSE=1 (a developer's
    loop) uses one that is up already and leaves it up."""
    if os.environ.get("HAPAIR_LAB_REUSE") == "1" and is_up(spec):
        yield Lab(spec)
        return
    with running(spec, *up_args) as handle:
        yield handle


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The pair lab."""
    yield from lab_of(SPEC)


def is_up(spec: Path) -> bool:
    from hapair.lab.plan import plan_lab
    return os.path.exists(f"/run/netns/{plan_lab(load_spec(spec).spec).control.name}")


def scenarios(*names: str) -> list[str]:
    """`--scenario NAME` for each name."""
    return [a for n in names for a in ("--scenario", n)]
