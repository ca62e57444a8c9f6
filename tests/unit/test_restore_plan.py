"""The restore's choice of node (ops/restore.py): the standby first."""

from __future__ import annotations

from hapair.model.status import NodeStatus, StatusDoc
from hapair.ops.restore import target_of


def status(node: str, up: bool = True, read_only: bool = True) -> NodeStatus:
    return NodeStatus(node=node, doc=StatusDoc(node=node, db_up=up, read_only=read_only))


def test_the_restore_goes_to_the_standby_else_the_primary_else_nowhere() -> None:
    both = [status("node1", read_only=False), status("node2")]
    assert target_of(both, ["node1"]) == "node2"
    assert target_of([status("node1", read_only=False), status("node2", up=False)],
                     ["node1"]) == "node1"
    assert target_of([status("node1", up=False), NodeStatus(node="node2", doc=None)], []) is None
