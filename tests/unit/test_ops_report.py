"""`hapair status`'s summary of the agents' statuses (pure), and the status
document's reading of what another version of the agent publishes."""

from __future__ import annotations

import pytest

from hapair.model.report import lag, summarize
from hapair.model.roles import Condition, Role
from hapair.model.status import NodeStatus, StatusDoc, StatusError, read


def doc(name: str, **kw: object) -> StatusDoc:
    base: dict[str, object] = {"node": name, "db_up": True, "read_only": True,
                               "holds_vip": False, "role": "replica", "reason": "ok",
                               "problem": False, "paused": False, "gtid_slave_pos": "0-1-5",
                               "gtid_binlog_pos": "0-1-5"}
    base.update(kw)
    return StatusDoc.model_validate(base)


def node(name: str, **kw: object) -> NodeStatus:
    return NodeStatus(name, doc(name, **kw))


def test_a_healthy_cluster_has_no_problem() -> None:
    s = summarize([node("node1", read_only=False, holds_vip=True, role="primary"),
                   node("node2")])
    assert s.vip_holders == ("node1",) and s.writable == ("node1",) and s.problems == ()


def test_two_writable_nodes_and_two_vip_holders_are_problems() -> None:
    s = summarize([node("node1", read_only=False, holds_vip=True),
                   node("node2", read_only=False, holds_vip=True)])
    assert any("two writable" in p for p in s.problems)
    assert any("VIP is on 2 nodes" in p for p in s.problems)


def test_standby_lost_gives_the_degrade_hint_and_an_unreachable_agent_is_named() -> None:
    s = summarize([node("node1", role="primary (writes paused)", problem=True, holds_vip=True,
                        reason="writes paused", condition="standby-lost"),
                   NodeStatus("node2", None, "agent unreachable (timed out)")])
    assert "no node accepts writes" in s.problems
    assert "node2: agent unreachable (timed out)" in s.problems
    assert any("hapair degrade SPEC" in h for h in s.hints)


def test_the_hint_follows_the_condition_not_the_words() -> None:
    s = summarize([node("node1", role="primary (writes paused)", problem=True, holds_vip=True,
                        reason="run `hapair degrade` maybe")])
    assert not s.hints


def test_lag_in_transactions() -> None:
    primary = doc("node1", gtid_binlog_pos="0-1-9")
    assert lag(doc("node2", gtid_slave_pos="0-1-5"), primary) == "4 tx"
    assert lag(primary, primary) == ""


def test_a_status_document_round_trips() -> None:
    d = doc("node1", role="primary (writes paused)", condition="standby-lost",
            io_running="Connecting")
    again, notes = read(d.model_dump(mode="json"))
    assert again == d and notes == []
    assert again.role is Role.PRIMARY_PAUSED and again.condition is Condition.STANDBY_LOST


def test_unknown_and_missing_keys_are_reported_not_dropped() -> None:
    data = doc("node1").model_dump(mode="json")
    del data["complete"]
    data["arbiter"] = {"brick": "witness"}
    data["version"] = 2
    got, notes = read(data)
    assert not got.complete  # the safe default
    assert notes == ["version 2 (this side reads 1)", "unknown keys: arbiter",
                     "missing keys: complete"]
    assert got.model_extra == {"arbiter": {"brick": "witness"}}


@pytest.mark.parametrize(("data", "words"), [
    ([1, 2], "JSON object"), ({"node": "n", "db_up": "maybe"}, "db_up"), ({}, "node")])
def test_a_broken_status_document_is_an_error(data: object, words: str) -> None:
    with pytest.raises(StatusError, match=words):
        read(data)


def test_logs_merge_both_agents_by_time_each_line_once() -> None:
    from hapair.ops.logs import Line, merge

    def entry(at: float, reason: str) -> dict[str, object]:
        return {"at": at, "role": "replica", "reason": reason, "actions": ["Follow"]}

    one = node("node1", history=[entry(10.0, "a"), entry(12.0, "c")])
    two = node("node2", history=[entry(11.0, "b")])
    seen: set[Line] = set()
    assert [x.reason for x in merge([one, two, NodeStatus("x", None, "down")], seen)] == \
        ["a", "b", "c"]
    later = node("node2", history=[entry(11.0, "b"), entry(13.0, "d")])
    (new,) = merge([one, later], seen)
    assert new.reason == "d" and new.text().endswith("node2 [replica] d -> Follow")


def test_a_degraded_bond_or_array_and_a_missing_one_are_problems() -> None:
    s = summarize([node("node1", read_only=False, holds_vip=True, role="primary",
                        bonds=[{"name": "bond1", "problem": "bond1 degraded: eth0 down"}],
                        arrays=[{"name": "md0", "problem": ""}]),
                   node("node2", hardware_missing=["md0"])])
    assert s.problems == ("node1: bond1 degraded: eth0 down",
                          "node2: md0 is named by the spec but the kernel has none")


def test_maintenance_and_owed_restarts_are_said_in_hints_and_the_role() -> None:
    from hapair.model.report import rows

    statuses = [node("node1", read_only=False, holds_vip=True, role="primary",
                     pending=["app"]),
                node("node2", maintenance=True, eligible=False)]
    s = summarize(statuses)
    assert s.problems == ()
    assert any("node1 owes" in h and "app" in h for h in s.hints)
    assert any("node2 is in maintenance" in h and "maintenance SPEC node2 off" in h
               for h in s.hints)
    assert [r.cells()[1] for r in rows(statuses, s)] == ["primary", "replica, maintenance"]


def test_workers_still_loading_are_shown_beside_a_healthy_application() -> None:
    from hapair.model.report import rows

    statuses = [node("node1", read_only=False, holds_vip=True, role="primary",
                     app_ok=True, apache_ok=True),
                node("node2", app_ok=True, apache_ok=True,
                     app_loading="1 of 3 application workers loaded")]
    s = summarize(statuses)
    assert s.problems == ()  # it serves: not a problem, but not ready for a switchover
    apps = [r.app for r in rows(statuses, s)]
    assert apps == ["ok", "ok (1 of 3 application workers loaded)"]
