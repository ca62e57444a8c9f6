"""Fencing in a lab of its own (examples/lab-fence.toml): a simulated BMC per
machine, driven by the real fence_ipmilan. Runs after every other lab test,
on a lab brought up here (one lab at a time on a host)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, own, running, scenarios

FENCED = own(EXAMPLES / "lab-fence.toml")


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
    summary = flab.drills(tmp_path, *scenarios(*names))
    assert {row["scenario"] for row in summary} >= {
        "power-cut-standby", "partition", "power-cut-primary", "freeze-machine-primary",
        "fence-device-down-power-cut-primary"}
