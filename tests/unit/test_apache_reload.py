"""Apache's reload that wakes its parent: the /proc parser on captured
lines, the verdict's table, the drop-in that makes it the unit's reload,
and the whole tool against a stand-in parent (a real process tree)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hapair import apache_reload
from hapair.apache_reload import verdict
from hapair.probes.procs import stat_state
from hapair.render import systemd
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "proc"


def test_the_state_is_read_after_the_name() -> None:
    assert stat_state((FIXTURES / "apache2-child.stat").read_text()) == "S"
    assert stat_state((FIXTURES / "zombie.stat").read_text()) == "Z"
    # A name may hold spaces and parentheses.
    assert stat_state("77 (a) b (c) R 1 77 77 0 -1") == "R"


@pytest.mark.parametrize(("alive", "before", "want"), [
    ([11, 12], {11, 12}, "wait"),  # the old children still finishing
    ([12, 13], {11, 12}, "wait"),  # one replaced as the parent reaped it
    ([], {11, 12}, "wake"),  # all gone, none started: the parent sleeps
    ([13], {11, 12}, "done"),  # one new child accepts: the rest at the parent's next look
    ([13, 14], {11, 12}, "done"),
])
def test_the_parent_is_woken_only_while_no_child_accepts(
        alive: list[int], before: set[int], want: str) -> None:
    assert verdict(alive, before) == want


def test_the_unit_s_reload_is_this_tool_with_debian_s_as_the_fallback() -> None:
    spec = load_spec(EXAMPLES / "lab-pair.toml").spec
    files = {f.path: f for f in systemd.render(spec, spec.nodes[0])}
    dropin = files["/etc/systemd/system/apache2.service.d/hapair-reload.conf"]
    lines = dropin.content.splitlines()
    # The empty ExecReload= first: without it systemd would run both.
    assert lines.index("ExecReload=") < next(
        i for i, line in enumerate(lines) if "hapair-apache-reload" in line)
    assert "exec /usr/sbin/apachectl graceful" in dropin.content and dropin.mode == 0o644


PARENT = """
import signal, subprocess, sys, time
told = []
def usr1(*a):
    told.append(1)
    if len(told) == 1:
        [k.terminate() for k in kids]
    else:
        open(sys.argv[1], "w").write("woken")
        sys.exit()
signal.signal(signal.SIGUSR1, usr1)
kids = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
print("ready", flush=True)
while True:
    time.sleep(0.01)
"""


def test_a_parent_whose_children_ended_is_sent_a_second_graceful_signal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for Apache's parent: at the first USR1 its two children
    end (it does not reap them: Apache's sleeps); it records the second."""
    woken = tmp_path / "woken"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(woken)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        (tmp_path / "pid").write_text(f"{parent.pid}\n")
        monkeypatch.setenv("APACHE_PID_FILE", str(tmp_path / "pid"))
        began = time.monotonic()
        rc = apache_reload.main(["kill", "-USR1", str(parent.pid)])
        assert rc == 0 and parent.wait(5) == 0
        assert woken.read_text() == "woken" and time.monotonic() - began < 1
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)


def test_a_failed_graceful_signals_nothing(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pid").write_text(f"{os.getpid()}\n")
    monkeypatch.setenv("APACHE_PID_FILE", str(tmp_path / "pid"))
    sent: list[int] = []
    monkeypatch.setattr(apache_reload.os, "kill", lambda pid, sig: sent.append(sig))
    monkeypatch.setattr(apache_reload, "live_children", lambda pid: [1])
    assert apache_reload.main(["false"]) == 1 and sent == []
