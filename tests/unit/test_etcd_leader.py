"""etcd's leader kept off the primary's machine (agent/node/etcd_leader.py): the
parsers on etcd 3.4's own answers, captured on the demo lab, and the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hapair.agent.node.etcd_leader import (
    LeaderMover,
    member_ids,
    parse_status,
    refusal,
    should_move,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "etcd"
NODE1, NODE2, WITNESS = 1626335024645222693, 6701784748316818378, 17739954954790166187


def fixture(name: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads((FIX / name).read_text())
    return answer


def test_the_status_names_this_member_and_the_leader() -> None:
    assert parse_status(fixture("status-leader-3.4.23.json")) == (NODE1, NODE1)
    assert parse_status(fixture("status-follower-3.4.23.json")) == (NODE2, NODE1)
    assert parse_status({}) == (0, 0)


def test_the_member_list_gives_each_name_its_id() -> None:
    assert member_ids(fixture("member-list-3.4.23.json")) == {
        "node1": NODE1, "node2": NODE2, "witness": WITNESS}


def test_a_transfer_asked_of_a_follower_is_refused_in_words() -> None:
    assert refusal(200, fixture("transfer-not-leader-3.4.23.json")) == "etcdserver: not leader"
    assert refusal(200, {}) == "" and refusal(503, {}) == "HTTP 503"


@pytest.mark.parametrize(("primary", "me", "leader", "target", "moves"), [
    (True, NODE1, NODE1, WITNESS, True),     # the primary's member leads: hand it over
    (True, NODE1, WITNESS, WITNESS, False),  # the witness leads already
    (True, NODE1, NODE2, WITNESS, False),    # the standby's member leads: no pause costs
    (False, NODE2, NODE2, WITNESS, False),   # not the primary: not this agent's to move
    (True, NODE1, NODE1, 0, False),          # no witness member known
    (True, 0, 0, WITNESS, False),            # no status
])
def test_only_the_primarys_own_leadership_moves(primary: bool, me: int, leader: int,
                                                target: int, moves: bool) -> None:
    assert should_move(primary, me, leader, target) is moves


class Answers:
    """etcd's gateway faked at the HTTP layer: the captured answers by path."""

    def __init__(self, leader: str) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.leader = leader

    def post(self, url: str, json: dict[str, Any], timeout: float) -> Any:
        path = url.split("/v3/", 1)[1]
        self.asked.append((path, json))
        body = {"maintenance/status": fixture(self.leader),
                "cluster/member/list": fixture("member-list-3.4.23.json"),
                "maintenance/transfer-leadership": {}}[path]
        return type("R", (), {"status_code": 200, "json": lambda self: body})()


def test_the_primarys_agent_hands_its_leadership_to_the_witness() -> None:
    from hapair.agent.node.dcs import EtcdAccess

    access = EtcdAccess(("https://127.0.0.1:2379",), "ca", "crt", "key", "u", "p")
    mover = LeaderMover(access, "witness")
    mover.session = Answers("status-leader-3.4.23.json")  # type: ignore[assignment]
    assert "handed from this node to witness" in mover.once(primary=True)
    assert mover.session.asked[-1] == (  # type: ignore[attr-defined]
        "maintenance/transfer-leadership", {"targetID": str(WITNESS)})
    follower = LeaderMover(access, "witness")
    follower.session = Answers("status-follower-3.4.23.json")  # type: ignore[assignment]
    assert follower.once(primary=True) == "" and len(follower.session.asked) == 1  # type: ignore[attr-defined]
    assert follower.once(primary=False) == ""
