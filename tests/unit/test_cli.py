from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from hapair.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()


def planted(tmp_path: Path) -> Path:
    text = (EXAMPLES / "m2l.toml").read_text()
    text = text.replace('address = "10.54.0.100"', 'address = "10.55.0.100"')
    text = text.replace('interconnect = "192.168.57.103"', 'interconnect = "192.168.57.102"')
    text = text.replace('"balance-rr"', '"balance-foo"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    return bad


def test_validate_ok() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLES / "m2l.toml")])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "10.54.0.100" in result.output


def test_validate_bad_spec_reports_all_errors_and_exits_2(tmp_path: Path) -> None:
    bad = planted(tmp_path)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    out = result.output
    assert f"{bad}:17: vip.address" in out
    assert f"{bad}:32: nodes[1].interconnect" in out
    assert f"{bad}:9: networks.interconnect.bond.mode" in out
    assert "3 error(s)" in out


def test_validate_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--json", str(planted(tmp_path))])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert {f["field"] for f in data["findings"] if f["severity"] == "error"} == {
        "vip.address", "nodes[1].interconnect", "networks.interconnect.bond.mode"}


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "cannot read the spec" in result.output


def test_usage_error_exits_2() -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_render_writes_each_node_with_modes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", str(EXAMPLES / "m2l.toml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    conf = out / "node2/etc/keepalived/keepalived.conf"
    assert "unicast_src_ip 192.168.57.103" in conf.read_text()
    assert stat.S_IMODE((out / "node1/etc/netplan/60-hapair.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "node1/etc/hapair/raid-create.sh").stat().st_mode) == 0o700
    assert sorted(p.name for p in out.iterdir()) == ["node1", "node2"]  # no staging left


def test_render_replaces_a_previous_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stale = out / "node1/etc/stale.conf"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    result = runner.invoke(app, ["render", str(EXAMPLES / "lab-pair.toml"), "--out", str(out)])
    assert result.exit_code == 0
    assert not stale.exists()


def test_render_of_a_bad_spec_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", str(planted(tmp_path)), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()


def test_secrets_new_and_check(tmp_path: Path) -> None:
    file = tmp_path / "secrets.toml"
    result = runner.invoke(app, ["secrets", "new", str(file)])
    assert result.exit_code == 0
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    value = file.read_text().split('"')[1]
    check = runner.invoke(app, ["secrets", "check", str(file)])
    assert check.exit_code == 0 and value not in check.output
    assert "[pki]" in file.read_text()  # the cluster CA, for the agents' TLS
    again = runner.invoke(app, ["secrets", "new", str(file)])
    assert again.exit_code == 2 and file.read_text().split('"')[1] == value


def test_usage_lines_name_arguments_plainly() -> None:
    for argv in (["status", "--help"], ["lab", "fault", "power-cut", "--help"],
                 ["fence", "--help"], ["secrets", "new", "--help"]):
        usage = runner.invoke(app, argv).output.splitlines()[0]
        assert "{" not in usage and "}" not in usage, usage
    assert runner.invoke(app, ["lab", "fault", "power-cut", "--help"]).output.splitlines()[0] \
        .endswith("[OPTIONS] SPEC NODE")


def test_render_json_writes_modes_as_octal_digits(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(EXAMPLES / "m2l.toml"), "--out",
                                 str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    modes = {f["path"]: f["mode"] for f in json.loads(result.output)["node1"]}
    assert modes["/etc/netplan/60-hapair.yaml"] == "0600"
    assert modes["/etc/hapair/raid-create.sh"] == "0700"


def test_operator_commands_need_only_the_api_token(tmp_path: Path) -> None:
    import pytest

    from hapair.secrets import SecretsError, load_api_token

    only = tmp_path / "token.toml"
    only.write_text('api_token = "' + "t" * 30 + '"\n')
    only.chmod(0o600)
    assert load_api_token(only, environ={}) == "t" * 30
    assert load_api_token(None, environ={"HAPAIR_API_TOKEN": "e" * 30}) == "e" * 30
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    empty.chmod(0o600)
    for path in (empty, None):
        with pytest.raises(SecretsError, match="pass --secrets FILE .* or set HAPAIR_API_TOKEN"):
            load_api_token(path, environ={})


def test_the_ca_for_the_agents_tls_comes_from_the_secrets_file(tmp_path: Path) -> None:
    import pytest

    from hapair.secrets import SecretsError, load_ca_cert

    file = tmp_path / "s.toml"
    assert runner.invoke(app, ["secrets", "new", str(file)]).exit_code == 0
    assert load_ca_cert(file).startswith("-----BEGIN CERTIFICATE-----")
    bare = tmp_path / "bare.toml"
    bare.write_text(file.read_text().split("\n[pki]")[0].rsplit("\n#", 1)[0] + "\n")
    bare.chmod(0o600)
    with pytest.raises(SecretsError, match="hapair secrets ca"):
        load_ca_cert(bare)
    r = runner.invoke(app, ["apply", str(EXAMPLES / "lab-pair.toml"), "--secrets", str(bare)])
    assert r.exit_code == 2 and "hapair secrets ca" in r.output, r.output


def test_a_witness_drill_needs_a_witness() -> None:
    r = runner.invoke(app, ["drill", str(EXAMPLES / "lab-pair.toml"), "--scenario",
                            "power-cut-witness"])
    assert r.exit_code == 2 and "names no witness" in r.output


def test_the_witness_s_scenarios_are_listed() -> None:
    r = runner.invoke(app, ["drill", str(EXAMPLES / "lab.toml"), "--list"])
    assert r.exit_code == 0
    for name in ("power-cut-witness", "partition-witness", "isolate-primary",
                 "standby-out-60s", "witness-then-standby"):
        assert name in r.output


def test_a_restore_to_a_moment_that_is_not_one_is_bad_input_before_any_connection() -> None:
    for moment, said in (("yesterday", "not a date and time"),
                         ("2999-01-01 00:00", "has not come yet")):
        result = runner.invoke(app, ["restore", str(EXAMPLES / "m2l.toml"), "--at", moment,
                                     "--yes"])
        assert result.exit_code == 2, result.output
        assert said in result.output


def test_a_drill_run_that_cannot_finish_still_writes_its_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster did not settle: the drill stops, but results.json and
    summary.json say so, that run marked failed with each agent's last
    decisions and log lines, and the scenario is not safe."""
    from hapair.cli import drill_cmds
    from hapair.drill import runner
    from hapair.drill.scenarios import SCENARIOS
    from hapair.drill.target import DrillError

    def run_once(*args: object, **kwargs: object) -> None:
        raise DrillError("the cluster did not settle within 180s: 2 writable nodes")

    said = {"node1": {"role": "primary", "reason": "open for writes", "history": []},
            "node2": {"role": "primary", "reason": "promoted", "history": []}}
    monkeypatch.setattr(runner, "run_once", run_once)
    journal = {"node1": ["Promote failed: timed out"], "node2": ["(powered off)"]}
    monkeypatch.setattr(runner, "last_decisions", lambda agents: said)
    monkeypatch.setattr(runner, "agent_journal", lambda lab: journal)
    lab = SimpleNamespace(agents=None)
    results = drill_cmds._run(lab, [SCENARIOS["partition"]], 3, 8, tmp_path)
    assert len(results) == 1 and results[0]["agents"] == said
    # With each agent's last log lines: what it tried, what failed.
    assert results[0]["journal"] == journal
    assert "did not settle" in results[0]["failed"]
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert drill_cmds._report(results, tmp_path) is False
    (row,) = json.loads((tmp_path / "summary.json").read_text())
    assert (row["scenario"], row["runs"], row["failed"], row["safe"]) == (
        "partition", 1, 1, False)
    assert "1 (1 failed)" in (tmp_path / "report.md").read_text()


def test_a_run_whose_own_check_failed_is_failed_and_the_next_runs_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mail-failover's count failed on a settled cluster: that run is
    failed, the drill goes on (the pair's set stopped there, 15 runs short)."""
    from hapair.cli import drill_cmds
    from hapair.drill import runner
    from hapair.drill.scenarios import SCENARIOS
    from hapair.drill.target import CheckFailed

    def run_once(*args: object, **kwargs: object) -> None:
        raise CheckFailed("mail: 5,748 of 5,902 owed delivered, 154 still unsent after 420s")

    monkeypatch.setattr(runner, "run_once", run_once)
    monkeypatch.setattr(runner, "last_decisions", lambda agents: {})
    monkeypatch.setattr(runner, "agent_journal", lambda lab: {})
    results = drill_cmds._run(SimpleNamespace(agents=None), [SCENARIOS["mail-failover"]], 3, 8,
                              tmp_path)
    assert len(results) == 3 and all(r["settled"] and not r["safe"] for r in results)
    assert drill_cmds._report(results, tmp_path) is False
