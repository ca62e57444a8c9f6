"""etcd's leader kept off the database primary's machine.

A machine paused whole (a hypervisor's pause) that held both the database
primary and etcd's leader cost the standby an etcd election first: its reads
failed for about 0.5 s, and the first one after the election showed the
primary's last renewal of its leader key as new. A revision is dated from
when it is first seen, to be safe (a partitioned primary renews it), so the
standby judged a partition and waited out the key's lease: 3.1 s without a
booking on the demo lab, against 1.2-1.4 s when etcd's leader was elsewhere.
So the primary's agent asks etcd to hand its leadership to the witness
(etcd's own MoveLeader, `etcdctl move-leader`: no election, no gap) whenever
it finds its own member leading. The witness holds no database: pausing
it costs an election and nothing else. Best effort: a refusal or a silent
witness is said once, and tried again later.

The parsers are pure and tested on etcd 3.4's answers (tests/fixtures/etcd)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from hapair.agent.node.dcs import EtcdAccess

log = logging.getLogger("hapair.agent")

CHECK_S = 5.0  # how often the primary looks at who leads etcd
TIMEOUT_S = 2.0


def parse_status(answer: dict[str, Any]) -> tuple[int, int]:
    """(this member's ID, the leader's ID) from /v3/maintenance/status; 0 unknown."""
    me = int(answer.get("header", {}).get("member_id", 0) or 0)
    return me, int(answer.get("leader", 0) or 0)


def member_ids(answer: dict[str, Any]) -> dict[str, int]:
    """Each member's name and ID, from /v3/cluster/member/list."""
    return {str(m.get("name", "")): int(m.get("ID", 0) or 0)
            for m in answer.get("members", []) if m.get("name")}


def refusal(status: int, answer: dict[str, Any]) -> str:
    """What etcd's gateway said went wrong ("" nothing): an error object, on
    a 200 as well as not."""
    if status == 200 and "error" not in answer:
        return ""
    return str(answer.get("message") or answer.get("error") or f"HTTP {status}")


def should_move(primary: bool, me: int, leader: int, target: int) -> bool:
    """The primary's own member leads, and the witness is there to take over (pure)."""
    return primary and me != 0 and me == leader and target not in (0, me)


class LeaderMover:
    """Talks to the local member only (the leader takes MoveLeader itself),
    with the agent's client certificate, which names its etcd user."""

    def __init__(self, access: EtcdAccess, witness: str) -> None:
        self.url = access.urls[0].rstrip("/") + "/v3"
        self.witness = witness
        self.session = requests.Session()
        self.session.trust_env = False  # the cluster's CA only, never a proxy
        self.session.verify = access.ca
        self.session.cert = (access.cert, access.key)
        self.said = ""

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.session.post(f"{self.url}/{path}", json=body, timeout=TIMEOUT_S)
        answer: dict[str, Any] = r.json()
        problem = refusal(r.status_code, answer)
        if problem:
            raise RuntimeError(f"{path}: {problem}")
        return answer

    def once(self, primary: bool) -> str:
        """One look, and a move if it is called for; what happened ("" nothing)."""
        if not primary:
            return ""
        me, leader = parse_status(self._post("maintenance/status", {}))
        if me != leader:
            return ""
        target = member_ids(self._post("cluster/member/list", {})).get(self.witness, 0)
        if not should_move(primary, me, leader, target):
            return ""
        self._post("maintenance/transfer-leadership", {"targetID": str(target)})
        return f"etcd: leadership handed from this node to {self.witness} (a pause of this " \
               "primary then costs no etcd election)"

    def run(self, primary: Callable[[], bool], interval: float = CHECK_S) -> None:
        """Never dies; each problem said once."""
        while True:
            try:
                done = self.once(primary())
                if done:
                    log.info("%s", done)
                self.said = ""
            except (requests.RequestException, ValueError, RuntimeError) as exc:
                if str(exc) != self.said:
                    log.warning("etcd: could not keep its leader off this primary: %s", exc)
                    self.said = str(exc)
            time.sleep(interval)
