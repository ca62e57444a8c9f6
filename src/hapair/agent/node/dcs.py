"""The witness's etcd, as the agent uses it: two keys, read together and
changed only by compare-and-swap on their revisions (etcd3gw, over etcd's
gRPC gateway, with TLS client certificates and a user's token).

- ``/hapair/<cluster>/leader``: {"node": ..., "epoch": ...}, the node that
  may be writable. Its holder rewrites it every cycle; every rewrite is a new
  revision, and the lease is kept on those revisions (see docs/controller.md,
  "The witness": an etcd lease's TTL has whole seconds and a floor of about
  two, which would put a failover above two seconds).
- ``/hapair/<cluster>/sync``: {"complete": ...}, written by the leader only:
  the node that holds every confirmed transaction ("" none).

The parsers are pure and tested on etcd's own answers; ``Etcd`` is the I/O:
a read goes to the member that answered last and, if it is slow, to every
other member too: the first answer wins (while the members elect a new
leader, which one answers first after the election is not known in advance:
asking them in turn, each with its timeout, once added seconds to a
failover). A write goes to the member that answered last, then to the others
in turn."""

from __future__ import annotations

import base64
import json
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Any

import requests
from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception

TIMEOUT_S = 0.5  # a request without a majority behind it hangs: give up soon
# A read the last member has not answered this soon goes to the others too
# (a read answers in a few milliseconds when a leader is there).
HEDGE_S = 0.05


class EtcdError(RuntimeError):
    pass


@dataclass(frozen=True)
class Record:
    """One key as etcd holds it; ``rev`` 0: the key does not exist."""

    value: dict[str, Any]
    rev: int = 0


NONE = Record({}, 0)


@dataclass(frozen=True)
class Keys:
    leader: Record
    sync: Record
    revision: int  # the store's revision when they were read

    @property
    def leader_node(self) -> str:
        return str(self.leader.value.get("node", ""))

    @property
    def leader_epoch(self) -> int:
        return int(self.leader.value.get("epoch", 0) or 0)

    @property
    def complete(self) -> str:
        return str(self.sync.value.get("complete", ""))


def key_names(cluster: str) -> tuple[str, str]:
    return f"/hapair/{cluster}/leader", f"/hapair/{cluster}/sync"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _record(kvs: list[dict[str, Any]] | None) -> Record:
    if not kvs:
        return NONE
    kv = kvs[0]
    try:
        value = json.loads(base64.b64decode(kv.get("value", "")).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        value = {}
    return Record(value if isinstance(value, dict) else {}, int(kv.get("mod_revision", 0)))


def parse_read(answer: dict[str, Any]) -> Keys:
    """The answer to ``read_request``: a transaction of two range reads."""
    responses = answer.get("responses", [])
    ranges = [r.get("response_range", {}) for r in responses]
    if len(ranges) != 2:
        raise EtcdError(f"etcd answered {len(ranges)} reads, not 2")
    return Keys(_record(ranges[0].get("kvs")), _record(ranges[1].get("kvs")),
                int(answer.get("header", {}).get("revision", 0)))


def parse_swap(answer: dict[str, Any]) -> int:
    """The new revision if the compare-and-swap went through, else 0."""
    if not answer.get("succeeded"):
        return 0
    return int(answer.get("header", {}).get("revision", 0))


def read_request(cluster: str) -> dict[str, Any]:
    return {"success": [{"request_range": {"key": _b64(k)}} for k in key_names(cluster)]}


def _compare(key: str, rev: int) -> dict[str, str]:
    if rev == 0:  # absent
        return {"target": "CREATE", "key": _b64(key), "result": "EQUAL", "create_revision": "0"}
    return {"target": "MOD", "key": _b64(key), "result": "EQUAL", "mod_revision": str(rev)}


def swap_request(key: str, value: dict[str, Any], expect: dict[str, int]) -> dict[str, Any]:
    """Put ``value`` at ``key`` if every key in ``expect`` is still at its revision."""
    return {"compare": [_compare(k, rev) for k, rev in expect.items()],
            "success": [{"request_put": {"key": _b64(key),
                                         "value": _b64(json.dumps(value, sort_keys=True))}}]}


@dataclass(frozen=True)
class EtcdAccess:
    urls: tuple[str, ...]  # the local member first
    ca: str
    cert: str
    key: str
    user: str
    password: str


class Etcd:
    """etcd3gw clients for each member. A token per member (etcd's simple
    tokens are the issuing member's own). At most one request in flight per
    member: a member stuck in a request is not asked again until it ends."""

    def __init__(self, access: EtcdAccess, timeout: float = TIMEOUT_S) -> None:
        self.access = access
        self.clients: list[Etcd3Client] = []
        for url in access.urls:
            scheme, rest = url.split("://", 1)
            host, port = rest.rsplit(":", 1)
            session = requests.Session()
            session.trust_env = False  # the cluster's CA only, never a proxy
            session.verify = access.ca
            session.cert = (access.cert, access.key)
            self.clients.append(Etcd3Client(host, int(port), scheme, timeout=timeout,
                                            api_path="/v3/", session=session))
        self.logged_in: set[int] = set()  # members whose token the session carries
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(self.clients)),
                                       thread_name_prefix="etcd")
        self.busy: dict[int, Future[dict[str, Any]]] = {}
        self.last = 0  # the member that answered last

    def _authenticate(self, i: int) -> None:
        c = self.clients[i]
        c.session.headers.pop("Authorization", None)
        answer = c.post(c.get_url("auth/authenticate"),
                        json={"name": self.access.user, "password": self.access.password})
        token = str(answer.get("token", ""))
        if not token:
            raise EtcdError(f"etcd at {c.host} gave no token to {self.access.user}")
        c.session.headers["Authorization"] = token
        self.logged_in.add(i)

    def _ask(self, i: int, body: dict[str, Any]) -> dict[str, Any]:
        """One member's answer (logged in again once if its token is gone)."""
        c = self.clients[i]
        for attempt in (1, 2):
            try:
                if i not in self.logged_in:
                    self._authenticate(i)
                return dict(c.transaction(body))
            except (Etcd3Exception, requests.RequestException, ValueError) as exc:
                said = _said(exc)
                if attempt == 1 and _auth_problem(said):
                    self.logged_in.discard(i)  # the member restarted: a new token
                    continue
                raise EtcdError(f"{c.host}: {said}") from exc
        raise AssertionError("unreachable")

    def _free(self) -> tuple[list[int], list[str]]:
        """The members with no request in flight, the one that answered last
        first; and a line for each busy one."""
        order = [self.last, *(i for i in range(len(self.clients)) if i != self.last)]
        free = [i for i in order if i not in self.busy or self.busy[i].done()]
        busy = [f"{self.clients[i].host}: an earlier request is still waiting"
                for i in order if i not in free]
        return free, busy

    def _one(self, i: int, body: dict[str, Any]) -> Future[dict[str, Any]]:
        self.busy[i] = f = self.pool.submit(self._ask, i, body)
        return f

    def _hedged(self, body: dict[str, Any]) -> dict[str, Any]:
        """A read: the member that answered last; if it has not answered
        within HEDGE_S, every other free member too; the first answer wins."""
        free, errors = self._free()
        if not free:
            raise EtcdError("; ".join(errors))
        first = self._one(free[0], body)
        asked = {first: free[0]}
        wait([first], timeout=HEDGE_S)
        if not first.done() or first.exception() is not None:
            asked.update({self._one(i, body): i for i in free[1:]})
        for f in as_completed(asked):
            try:
                answer = f.result()
            except EtcdError as exc:
                errors.append(str(exc))
                continue
            self.last = asked[f]
            return answer
        raise EtcdError("; ".join(errors))

    def _in_turn(self, body: dict[str, Any]) -> dict[str, Any]:
        """A write: one member at a time, never the same change sent twice
        at once (a second copy would fail its compare and read as lost)."""
        free, errors = self._free()
        for i in free:
            try:
                answer = self._one(i, body).result()
            except EtcdError as exc:
                errors.append(str(exc))
                continue
            self.last = i
            return answer
        raise EtcdError("; ".join(errors) or "no etcd member named")

    def read(self, cluster: str) -> Keys:
        return parse_read(self._hedged(read_request(cluster)))

    def swap(self, key: str, value: dict[str, Any], expect: dict[str, int]) -> int:
        return parse_swap(self._in_turn(swap_request(key, value, expect)))


def _said(exc: BaseException) -> str:
    detail = getattr(exc, "detail_text", None)
    text = f"{type(exc).__name__}: {detail or exc}"
    return " ".join(text.split())[:600]


def _auth_problem(said: str) -> bool:
    return any(w in said for w in ("token", "authenticat", "Unauthenticated"))
