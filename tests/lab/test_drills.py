"""A short drill of every scenario, as CI runs it: no confirmed booking lost,
no double booking, never two writable nodes, but for a paused machine's
moment after it resumes, which is bounded (the long runs are a benchmark)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lab.conftest import Lab, paused_primary_closes_soon_after_it_resumes, scenarios

# Every scenario of a pair with neither witness nor fence devices but the
# paused machine (below): nothing in a paused machine can act, so only a
# fence device closes that one (lab-fence's drills assert it).
SAFE_ON_A_PAIR = (
    "power-cut-primary", "kill-mariadb-primary", "kill-keepalived-primary",
    "kill-app-primary", "kill-apache-primary", "public-link-primary", "interconnect-cut",
    "partition", "freeze-agent-primary", "monitor-holds-primary")
# Not here, to keep the suite's time (every one is in the drill sets):
# `switchover` (the rolled applies below switch over twice under the same
# load), a random sequence of faults (the soak below is one, judged round by
# round), `power-cut-standby` (the fence and witness labs' drills run it),
# `freeze-agent-primary-30s` (the watchdog ends a frozen agent within
# seconds: the 4 s freeze above takes the same path, 26 s shorter).


def test_every_scenario_once(lab: Lab, tmp_path: Path) -> None:
    summary = lab.drills(tmp_path, *scenarios(*SAFE_ON_A_PAIR))
    assert {row["scenario"] for row in summary} == set(SAFE_ON_A_PAIR)
    assert (tmp_path / "report.md").exists()
    assert (tmp_path / "power-cut-primary.png").stat().st_size > 1000


def test_changes_are_rolled_under_load(lab: Lab, tmp_path: Path) -> None:
    """What an operator changes, under the booking load: one more application
    worker applied, then the original spec again (each apply rolls the
    restarts: the standby first, a switchover, the old primary); a setting
    only the agents read applied and back (the standby's agent restarted
    first, telling its primary, which neither pauses its writes nor alerts;
    then the primary's in place: the VIP stays); and a rolling reboot
    (`hapair reboot --all`: maintenance, each machine rebooted in turn, the
    standby first, back as a complete replica before the next; the VIP moves
    once). Nothing lost, nothing doubled, never two writable; the figures are
    the drills' (README, "Drills")."""
    summary = lab.drills(tmp_path, *scenarios("apply-workers", "apply-agent", "rolling-reboot"))
    rows = {row["scenario"]: row for row in summary}
    assert rows["rolling-reboot"]["vip_moves"] == 1, rows["rolling-reboot"]
    # The agents alone: nothing moves and nobody alerts.
    assert rows["apply-agent"]["vip_moves"] == 0, rows["apply-agent"]
    assert rows["apply-agent"]["alerted"] == 0, rows["apply-agent"]
    results = json.loads((tmp_path / "results.json").read_text())
    (apply,) = [r for r in results if r["scenario"] == "apply-workers"]
    rolled = [apply["faults"][0]["result"], apply["faults"][0]["after"]]
    assert all("the VIP moved once" in r for r in rolled), rolled
    (agents,) = [r for r in results if r["scenario"] == "apply-agent"]
    rolled = [agents["faults"][0]["result"], agents["faults"][0]["after"]]
    assert all("the VIP stayed" in r for r in rolled), rolled
    (reboot,) = [r for r in results if r["scenario"] == "rolling-reboot"]
    assert reboot["faults"][0]["result"].count(" back in ") == 2, reboot["faults"][0]


def test_a_paused_primary_confirms_nothing_and_closes_soon_after_it_resumes(
        lab: Lab, tmp_path: Path) -> None:
    """A hypervisor's pause of the primary's machine, on a pair without a
    fence device: the standby promotes after the lease; the paused server
    stays writable while paused (nothing in it can act) and for a moment
    after it resumes, until its agent's guard (or systemd's watchdog and the
    stop hook) closes it. No booking is confirmed there meanwhile (its
    commits wait for an acknowledgement that never comes): nothing lost,
    nothing doubled. This test bounds how long after the resume."""
    paused_primary_closes_soon_after_it_resumes(lab, tmp_path)


def test_a_drill_refuses_a_lab_that_is_not_up(lab: Lab, tmp_path: Path) -> None:
    spec = tmp_path / "other.toml"
    spec.write_text(lab.spec.read_text().replace('name = "test-pair"', 'name = "otherlab"'))
    r = lab.hapair("drill", str(spec), "--scenario", "partition")
    assert r.returncode != 0 and "not up" in r.stderr


def test_a_short_soak_judges_every_round_and_what_the_processes_hold(
        lab: Lab, tmp_path: Path) -> None:
    """The soak (`--soak`), two minutes of it so that it cannot rot: rounds
    of load with a seeded random fault each, every round judged by the
    drills' checker, the cluster never stuck, and each machine's
    long-running programs read before the first fault and after each (the
    hour-long soak is a figure: README, "Soak")."""
    r = lab.hapair("drill", str(lab.spec), "--soak", "2m", "--seed", "3",
                   *scenarios("kill-app-primary", "power-cut-primary", "partition",
                              "kill-mariadb-primary"),
                   "--out", str(tmp_path), timeout=900)
    print(r.stdout[-6000:])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    got = json.loads((tmp_path / "soak.json").read_text())
    v = got["verdict"]
    assert v["ok"] and v["rounds"] >= 2 and not (v["failed"] or v["unsafe"] or v["slow"]), v
    assert v["readings"] == v["rounds"] + 1 and v["called"] == v["rounds"], v
    for reading in got["readings"]:
        for node in ("node1", "node2"):
            programs = reading["nodes"].get(node, {})
            assert programs.get("mariadbd", {}).get("pss_kb", 0) > 0, (node, reading)
            assert programs.get("agent", {}).get("fds", 0) > 0, (node, reading)
    assert (tmp_path / "soak.png").stat().st_size > 1000
