"""When the operator's commands may act (agent/core/command_rules.py, pure): a
table of the agent as asked, the command, and why not ("" it may)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hapair.agent.core import command_rules as rules
from hapair.agent.core.actions import Decision
from hapair.agent.core.view import Memory, Task
from hapair.model.roles import Role
from tests.unit.test_decide import NOW, primary_db, replica_db, view

PRIMARY = Decision(reason="primary", eligible=True, role=Role.PRIMARY)
PAUSED = Decision(reason="writes paused", eligible=True, role=Role.PRIMARY_PAUSED)
REPLICA = Decision(reason="replica", eligible=True, role=Role.REPLICA)
V_PRIMARY = view(primary_db(), None, node="node1", holds_vip=True)
V_REPLICA = view(replica_db(), None)
PROMOTING = Task(Role.PROMOTING, "promoting", NOW)


def asked(v: object = V_PRIMARY, d: Decision | None = PRIMARY, m: Memory | None = None,
          answers: bool = True, node: str = "node1") -> rules.Asked:
    return rules.Asked(node, "node2" if node == "node1" else "node1", v,  # type: ignore[arg-type]
                       d, m or Memory(), answers, NOW)


WINDOW = Memory(restart_until=NOW + 5, restart_announced=True)
CASES: list[tuple[str, object, str]] = [
    # (what, the verdict, words of why not; "" = it may)
    ("fence of an idle primary", rules.fence(None, "node1", "node2"), ""),
    ("fence while promoting, the fencer's name sorts later",
     rules.fence(PROMOTING, "node1", "node2"), "node1 is promoting itself"),
    ("fence while promoting, the fencer's name sorts first",
     rules.fence(PROMOTING, "node2", "node1"), ""),
    ("restore on the writable primary", rules.restore(V_PRIMARY, "node1"),
     "node1's database is not read-only: fence the primary"),
    ("restore on a replica", rules.restore(V_REPLICA, "node2"), ""),
    ("restore on a fenced primary (read-only)",
     rules.restore(view(replace(primary_db(), read_only=True), None), "node1"), ""),
    ("restore on a node whose database is down",
     rules.restore(view(replace(replica_db(), up=False), None), "node2"), "not read-only"),
    ("restore before the first view", rules.restore(None, "node1"), "not read-only"),
    ("maintenance on for the writable primary", rules.maintenance(asked(), True),
     "switch over first"),
    ("maintenance on for a fenced primary (read-only in effect)",
     rules.maintenance(asked(m=Memory(fenced_by="node2")), True), ""),
    ("maintenance off for the primary", rules.maintenance(asked(), False), ""),
    ("maintenance on for a replica", rules.maintenance(asked(V_REPLICA, REPLICA, node="node2"),
                                                       True), ""),
    ("reboot outside maintenance", rules.reboot(asked(V_REPLICA, REPLICA, node="node2")),
     "not in maintenance"),
    ("reboot of a replica in maintenance",
     rules.reboot(asked(V_REPLICA, REPLICA, Memory(maintenance=True), node="node2")), ""),
    ("reboot of the writable primary", rules.reboot(asked(m=Memory(maintenance=True))),
     "the writable primary"),
    ("degrade a primary with writes paused, standby silent",
     rules.degrade(asked(d=PAUSED, answers=False)), ""),
    ("degrade while the standby answers", rules.degrade(asked(d=PAUSED)),
     "node2 answers: nothing to degrade"),
    ("degrade a primary that writes", rules.degrade(asked(answers=False)),
     "not a primary with writes paused (it is: primary)"),
    ("degrade while starting", rules.degrade(asked(d=None, answers=False)), "it is: starting"),
    ("switchover to a replica", rules.switchover(asked(V_REPLICA, REPLICA, node="node2"), False),
     ""),
    ("switchover to the primary itself", rules.switchover(asked(), False), "already the primary"),
    ("switchover with the peer silent",
     rules.switchover(asked(V_REPLICA, REPLICA, answers=False, node="node2"), False),
     "does not answer"),
    ("switchover with the peer silent, forced",
     rules.switchover(asked(V_REPLICA, REPLICA, answers=False, node="node2"), True), ""),
    ("restart in place of the writable primary", rules.restart_in_place(asked()), ""),
    ("restart in place with the standby silent", rules.restart_in_place(asked(answers=False)),
     "does not answer"),
    ("restart in place while starting", rules.restart_in_place(asked(None, None)),
     "node1 is starting"),
    ("restart in place of a replica",
     rules.restart_in_place(asked(V_REPLICA, REPLICA, node="node2")),
     "not the writable primary"),
    ("restart in place while busy", rules.restart_in_place(asked(m=Memory(task=PROMOTING))),
     "busy (promoting)"),
    ("restart in place while fenced", rules.restart_in_place(asked(m=Memory(fenced_by="node2"))),
     "fenced or switched over"),
    ("restart in place twice", rules.restart_in_place(asked(m=WINDOW)), "already restarting"),
    ("restart in place after a window that ran out without the restart",
     rules.restart_in_place(asked(m=replace(WINDOW, restart_until=NOW - 1))), ""),
]


@pytest.mark.parametrize(("what", "verdict", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_command_may_act_or_says_why_not(what: str, verdict: object, words: str) -> None:
    assert isinstance(verdict, str)
    if words:
        assert words in verdict, verdict
    else:
        assert verdict == "", verdict
