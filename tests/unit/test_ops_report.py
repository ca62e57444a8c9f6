"""`hapair status`'s summary of the agents' statuses (pure)."""

from __future__ import annotations

from hapair.ops.report import lag, summarize


def node(name: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {"node": name, "db_up": True, "read_only": True,
                               "holds_vip": False, "role": "replica", "reason": "ok",
                               "problem": False, "paused": False, "gtid_slave_pos": "0-1-5",
                               "gtid_binlog_pos": "0-1-5"}
    base.update(kw)
    return base


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
                        reason="writes paused: standby node2 lost; run `hapair degrade`"),
                   {"node": "node2", "unreachable": "timed out"}])
    assert "no node accepts writes" in s.problems
    assert "node2: agent unreachable (timed out)" in s.problems
    assert any("hapair degrade SPEC" in h for h in s.hints)


def test_lag_in_transactions() -> None:
    primary = node("node1", gtid_binlog_pos="0-1-9")
    assert lag(node("node2", gtid_slave_pos="0-1-5"), primary) == "4 tx"
    assert lag(primary, primary) == ""
