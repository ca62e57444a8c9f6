"""A change to a live cluster, rolled (pure): which restarts each change
owes, in which order, whether the VIP moves; the MariaDB variables that need
no restart; the spec changes the agent never reads; when the cluster is
settled enough to roll."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hapair.agent.core.config import from_spec
from hapair.deploy import rolling, sql
from hapair.deploy.rolling import plan
from hapair.model.status import StatusDoc
from hapair.ops.settled import settled
from hapair.probes.mariadb import parse_globals
from hapair.render.mariadb import render as render_mariadb
from hapair.spec import ClusterSpec

AGENT_SRC = Path(__file__).parents[2] / "src/hapair/agent"

# (keys noted on the primary, on the standby) -> the roll, one line a step.
ROLLS = [
    # Reloads only (Apache, keepalived, the firewall): done as the files land.
    ({"apache", "keepalived"}, {"apache", "firewall"}, False, []),
    # The application's restart: the standby first, then a switchover.
    ({"app"}, {"app"}, True, [
        "node2: restart hapair-app", "node2: wait", "switchover to node2", "node2: wait",
        "node1: restart hapair-app", "node1: wait"]),
    # Owed on the standby alone (an earlier apply stopped half-way): no switchover.
    (set(), {"mariadb", "agent"}, False, [
        "node2: restart mariadb", "node2: restart hapair-agent", "node2: wait"]),
    # Owed on the primary alone: a switchover first, nothing on the standby.
    ({"app"}, set(), True, ["switchover to node2", "node2: wait",
                            "node1: restart hapair-app", "node1: wait"]),
    # The agent alone (a new hapair, a setting it reads): in place on the
    # primary, after the standby's; nothing moves.
    ({"agent"}, {"agent"}, False, [
        "node2: restart hapair-agent (", "node2: wait", "node1: restart hapair-agent in place",
        "node1: wait"]),
    ({"agent"}, set(), False, ["node1: restart hapair-agent in place", "node1: wait"]),
    # Everything: the database first, the application last, on each node.
    ({"app", "agent", "mariadb", "units"}, {"mariadb", "app", "agent"}, True, [
        "node2: restart mariadb", "node2: restart hapair-agent", "node2: restart hapair-app",
        "node2: wait", "switchover to node2", "node2: wait", "node1: restart mariadb",
        "node1: restart hapair-agent", "node1: restart hapair-app", "node1: wait"]),
]


@pytest.mark.parametrize(("on_primary", "on_standby", "moves", "expected"), ROLLS)
def test_the_roll(on_primary: set[str], on_standby: set[str], moves: bool,
                  expected: list[str]) -> None:
    roll = plan({"node1": frozenset(on_primary), "node2": frozenset(on_standby)},
                primary="node1", standby="node2")
    assert roll.vip_moves is moves
    lines = roll.lines()
    assert len(lines) == max(len(expected), 1)
    for line, start in zip(lines, expected, strict=False):
        assert line.startswith(start), (line, start)
    if not expected:
        assert lines == ["no restart owed: nothing to roll"]


def test_every_key_a_change_can_note_is_in_the_table() -> None:
    from hapair.deploy.steps import COMPONENT_KEYS

    noted = {k for keys in COMPONENT_KEYS.values() for k in keys}
    # units (a daemon-reload), network, raid and etcd are done by the convergence
    # itself; the rest are rolled or reloaded, each with what the primary pays.
    assert noted - {"units", "network", "raid", "etcd"} <= set(rolling.KEYS)
    assert all(rolling.KEYS[k][1] == "restart" for k in rolling.ROLLED)


# ---- MariaDB --------------------------------------------------------------------

def _config(spec: ClusterSpec) -> str:
    return render_mariadb(spec, spec.nodes[0])[0].content


def test_a_semi_sync_timeout_is_set_at_run_time(lab: ClusterSpec) -> None:
    changed = lab.model_copy(update={"database": lab.database.model_copy(
        update={"semi_sync_timeout_ms": 60_000})})
    assert rolling.mariadb_dynamic(_config(lab), _config(changed)) == {
        "rpl_semi_sync_master_timeout": "60000"}
    assert sql.set_globals({"rpl_semi_sync_master_timeout": "60000"}) == [
        "SET GLOBAL rpl_semi_sync_master_timeout = 60000"]


@pytest.mark.parametrize("update", [{"port": 3307}, {"parallel_threads": 8},
                                    {"parallel_threads": 8, "semi_sync_timeout_ms": 5000}])
def test_a_static_variable_needs_a_restart(lab: ClusterSpec, update: dict[str, int]) -> None:
    changed = lab.model_copy(update={"database": lab.database.model_copy(update=update)})
    assert rolling.mariadb_dynamic(_config(lab), _config(changed)) is None


def test_unchanged_or_unreadable_config_is_no_dynamic_change(lab: ClusterSpec) -> None:
    assert rolling.mariadb_dynamic(_config(lab), _config(lab)) is None
    assert rolling.mariadb_dynamic("not [ an ini", _config(lab)) is None
    assert rolling.mariadb_dynamic("", _config(lab)) is None


def test_set_globals_quotes_words_and_refuses_odd_names() -> None:
    assert sql.set_globals({"x_y": "a'b"}) == ["SET GLOBAL x_y = 'a\\'b'"]
    assert sql.set_globals({"x": "on"}) == ["SET GLOBAL x = on"]
    with pytest.raises(ValueError, match="not a variable name"):
        sql.set_globals({"x; DROP": "1"})


def test_the_globals_probe_parses_the_clients_rows() -> None:
    out = ("RPL_SEMI_SYNC_MASTER_TIMEOUT\t4294967295\nSLAVE_NET_TIMEOUT\t5\n"
           "RPL_SEMI_SYNC_SLAVE_KILL_CONN_TIMEOUT\t1\n")
    assert parse_globals(out) == {"rpl_semi_sync_master_timeout": "4294967295",
                                  "slave_net_timeout": "5",
                                  "rpl_semi_sync_slave_kill_conn_timeout": "1"}
    assert parse_globals("") == {}
    assert parse_globals("ERROR 2002 (HY000): Can't connect") == {}


# ---- the agent's part of the spec ----------------------------------------------

AGENT_BLIND = [
    ("web", {"workers": 7}), ("web", {"env": {"X": "1"}}),
    ("database", {"semi_sync_timeout_ms": 60_000}),
    ("timing", {"advert_interval_s": 0.2, "fall": 3}),
]


@pytest.mark.parametrize(("part", "update"), AGENT_BLIND)
def test_a_change_the_agent_never_reads_is_not_its(lab: ClusterSpec, part: str,
                                                   update: dict[str, object]) -> None:
    changed = lab.model_copy(update={part: getattr(lab, part).model_copy(update=update)})
    assert rolling.for_agent(json.loads(changed.model_dump_json())) == rolling.for_agent(
        json.loads(lab.model_dump_json()))
    for node in lab.nodes:
        assert from_spec(changed, node) == from_spec(lab, node)


@pytest.mark.parametrize(("part", "update"), [
    ("web", {"port": 8001}), ("timing", {"agent_interval_s": 0.3}),
    ("database", {"durability": "async"})])
def test_a_change_the_agent_reads_is_its(lab: ClusterSpec, part: str,
                                         update: dict[str, object]) -> None:
    changed = lab.model_copy(update={part: getattr(lab, part).model_copy(update=update)})
    assert rolling.for_agent(json.loads(changed.model_dump_json())) != rolling.for_agent(
        json.loads(lab.model_dump_json()))


def test_the_agent_names_none_of_the_parts_said_not_its() -> None:
    """The table above is true of the agent's code: no module of
    hapair.agent reads a field it lists (were one to, its change would
    leave the agent running on the old value)."""
    text = "\n".join(p.read_text() for p in AGENT_SRC.rglob("*.py"))
    for part, fields in rolling.NOT_THE_AGENTS.items():
        if fields[0] == "*":
            used = set(re.findall(rf"spec\.{part}\.(\w+)", text)) - set(fields[1:])
            assert not used, (part, used)
            assert not re.search(rf"spec\.{part}\b(?!\.)", text), part
        else:
            for name in fields:
                assert not re.search(rf"\.{part}\.{name}\b", text), (part, name)


# ---- settled ---------------------------------------------------------------------

def _doc(name: str, **kw: object) -> StatusDoc:
    base: dict[str, object] = {
        "node": name, "db_up": True, "read_only": True, "role": "replica", "reason": "ok",
        "gtid_slave_pos": "0-1-5", "gtid_binlog_pos": "0-1-5", "complete": True,
        "eligible": True, "io_running": "Yes", "app_ok": True, "apache_ok": True,
        "master_host": "192.168.57.102"}
    base.update(kw)
    return StatusDoc.model_validate(base)


def test_settled_wants_a_primary_and_a_complete_replica(lab: ClusterSpec) -> None:
    primary = _doc("node1", read_only=False, holds_vip=True, role="primary",
                   io_running="No", master_host="")
    ok = settled(lab, {"node1": primary, "node2": _doc("node2")}, services=True)
    assert ok.ok and (ok.primary, ok.standby) == ("node1", "node2")
    behind = settled(lab, {"node1": primary.model_copy(update={"gtid_binlog_pos": "0-1-9"}),
                           "node2": _doc("node2")})
    assert not behind.ok and "behind" in behind.why
    app_down = settled(lab, {"node1": primary, "node2": _doc("node2", app_ok=False,
                                                           health_problem="app: 502")},
                       services=True)
    assert not app_down.ok and "app: 502" in app_down.why
    assert settled(lab, {"node1": primary, "node2": _doc("node2", app_ok=False)}).ok
    # Answering, but with workers still loading the application: a
    # switchover onto it would queue the first bookings behind them.
    loading = {"node1": primary,
               "node2": _doc("node2", app_loading="1 of 3 application workers loaded")}
    assert not settled(lab, loading, services=True).ok
    assert "node2: 1 of 3 application workers loaded" in settled(lab, loading, services=True).why
    assert settled(lab, loading).ok  # the drills' own wait asks no services
    gone = settled(lab, {"node1": primary, "node2": None})
    assert not gone.ok and "unreachable" in gone.why
    assert "0 writable" in settled(lab, {"node1": _doc("node1"), "node2": _doc("node2")}).why
    # A replica in maintenance is out of failover: no roll or drill starts on
    # it, but a reboot's wait counts it back.
    kept_out = {"node1": primary, "node2": _doc("node2", eligible=False, maintenance=True)}
    assert not settled(lab, kept_out).ok and settled(lab, kept_out, maintenance=True).ok
    not_back = {"node1": primary, "node2": _doc("node2", eligible=False, complete=False,
                                                maintenance=True)}
    assert not settled(lab, not_back, maintenance=True).ok


# ---- the drills' changes ---------------------------------------------------------

def test_each_drill_change_is_one_valid_setting_and_keeps_the_comments() -> None:
    from hapair.drill.changes import CHANGES, changed_text
    from hapair.spec import load_spec

    path = Path(__file__).parents[2] / "examples/lab.toml"
    original = path.read_text()
    before = load_spec(path).spec
    for change in CHANGES:
        text = changed_text(original, change)
        assert "# Drills fail the primary over and over" in text, change.name
        changed_file = path.with_name(f".test-{change.name}.toml")
        changed_file.write_text(text)
        try:
            after = load_spec(changed_file).spec
        finally:
            changed_file.unlink()
        differ = [part for part in ("web", "database", "timing", "alerts")
                  if getattr(after, part) != getattr(before, part)]
        assert len(differ) == 1, (change.name, differ)
        old = json.loads(before.model_dump_json())
        new = json.loads(after.model_dump_json())
        # What the roll will make of it: the agent restarts for its own change only.
        ours = rolling.for_agent(old) != rolling.for_agent(new)
        assert ours is (change.name == "apply-agent"), change.name


def test_under_load_a_complete_replica_a_little_behind_is_settled(lab: ClusterSpec) -> None:
    primary = _doc("node1", read_only=False, holds_vip=True, role="primary",
                   io_running="No", master_host="", gtid_binlog_pos="0-1-9")
    docs = {"node1": primary, "node2": _doc("node2")}
    assert not settled(lab, docs).ok
    assert settled(lab, docs, applied=False).ok
    incomplete = {"node1": primary, "node2": _doc("node2", complete=False, reason="catching up")}
    assert not settled(lab, incomplete, applied=False).ok


def test_a_changed_file_calls_for_nothing_only_where_the_rule_says(lab: ClusterSpec) -> None:
    from hapair.paths import SPEC_JSON
    from hapair.render.mariadb import CONFIG_PATH

    timeout = lab.model_copy(update={"database": lab.database.model_copy(
        update={"semi_sync_timeout_ms": 60_000})})
    assert rolling.calls_for_nothing(CONFIG_PATH, _config(lab), _config(timeout))
    assert not rolling.calls_for_nothing(CONFIG_PATH, "", _config(timeout))  # a first apply
    workers = lab.model_copy(update={"web": lab.web.model_copy(update={"workers": 7})})
    assert rolling.calls_for_nothing(SPEC_JSON, lab.model_dump_json(), workers.model_dump_json())
    assert not rolling.calls_for_nothing(SPEC_JSON, "{not json", workers.model_dump_json())
    assert not rolling.calls_for_nothing("/etc/other", "a", "b")


def test_a_switchover_waits_for_a_replica_that_has_thousands_still_to_apply(
        lab: ClusterSpec) -> None:
    """The demo lab's rolling reboot switched over onto a node that had
    received 6,171 transactions it had not applied: its promotion applied
    them first, and bookings were refused for 3.2 s behind the moved VIP."""
    from hapair.ops.settled import APPLY_BACKLOG

    primary = _doc("node1", read_only=False, holds_vip=True, role="primary", io_running="No",
                   master_host="", gtid_binlog_pos="0-1-9000")
    catching_up = _doc("node2", gtid_io_pos="0-1-9000", gtid_slave_pos="0-1-2829")
    docs = {"node1": primary, "node2": catching_up}
    assert settled(lab, docs, applied=False).ok  # complete: what the drills' settle asked
    waiting = settled(lab, docs, applied=False, backlog=APPLY_BACKLOG)
    assert not waiting.ok and "6171 transactions still to apply" in waiting.why
    near = {**docs, "node2": catching_up.model_copy(update={"gtid_slave_pos": "0-1-8800"})}
    assert settled(lab, near, applied=False, backlog=APPLY_BACKLOG).ok
