"""The scripts that act without the agent, run by a real /bin/sh against a
window file of our own: keepalived's check passes while the agent is down
only within a restart in place's window, and the stop hook then leaves the
database alone (agent/restarting.py). The paths and commands are swapped for
a temporary file and stubs; the logic is the rendered one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hapair.paths import RESTART_WINDOW
from hapair.render import keepalived, systemd
from hapair.spec.models import ClusterSpec


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def run(script: str, window: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    text = script.replace(RESTART_WINDOW, str(window))
    # No agent answers (curl to a closed port); the database client is a stub
    # that records what it was asked.
    text = text.replace("http://127.0.0.1:8008/alive", "http://127.0.0.1:9/alive")
    text = text.replace("/usr/bin/mariadb", f"{tmp}/mariadb").replace("pkill ", "true ")
    stub = tmp / "mariadb"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {tmp}/asked\necho 0\n')
    stub.chmod(0o755)
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, timeout=10,
                          check=False)


def window_file(tmp: Path, left: float | None) -> Path:
    """The window's file with `left` seconds to go (None: no file)."""
    window = tmp / "window"
    if left is not None:
        window.write_text(f"{uptime() + left:.3f} 0\n")
    return window


@pytest.mark.parametrize("left", [None, -3.0, 5.0])
def test_the_check_passes_without_an_agent_only_within_the_window(
        m2l: ClusterSpec, tmp_path: Path, left: float | None) -> None:
    window = window_file(tmp_path, left)
    script = keepalived.check_script(m2l, m2l.nodes[0]).content
    assert (run(script, window, tmp_path).returncode == 0) is (left == 5.0)


@pytest.mark.parametrize("left", [None, -3.0, 5.0])
def test_the_stop_hook_leaves_the_database_open_only_within_the_window(
        m2l: ClusterSpec, tmp_path: Path, left: float | None) -> None:
    window = window_file(tmp_path, left)
    hook = systemd.stop_fence(m2l, m2l.nodes[0]).content
    hook = hook.replace("/run/hapair/stop-fence", str(tmp_path / "times"))
    done = run(hook, window, tmp_path)
    asked = (tmp_path / "asked").read_text() if (tmp_path / "asked").exists() else ""
    assert done.returncode == 0, done.stderr
    if left == 5.0:
        assert asked == ""  # not even a look at the database
    else:
        assert "SET GLOBAL read_only = ON" in asked
