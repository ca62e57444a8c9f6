"""A short drill of every scenario, as CI runs it: no confirmed booking lost,
no double booking, never two writable nodes (the long runs are a benchmark)."""

from __future__ import annotations

from pathlib import Path

from tests.lab.conftest import Lab


def test_every_scenario_once_and_a_random_sequence(lab: Lab, tmp_path: Path) -> None:
    summary = lab.drills(tmp_path, "--all", "--random", "7")
    assert {row["scenario"] for row in summary} >= {
        "power-cut-primary", "kill-mariadb-primary", "kill-keepalived-primary",
        "kill-app-primary", "kill-apache-primary", "public-link-primary", "interconnect-cut",
        "partition", "power-cut-standby", "switchover", "freeze-agent-primary",
        "freeze-agent-primary-30s", "freeze-machine-primary", "random-7"}
    assert (tmp_path / "report.md").exists()
    assert (tmp_path / "power-cut-primary.png").stat().st_size > 1000


def test_a_drill_refuses_a_lab_that_is_not_up(lab: Lab, tmp_path: Path) -> None:
    spec = tmp_path / "other.toml"
    spec.write_text(lab.spec.read_text().replace('name = "pair"', 'name = "otherlab"'))
    r = lab.hapair("drill", str(spec), "--scenario", "partition")
    assert r.returncode != 0 and "not up" in r.stderr
