"""Stopping the peer's writes before this node opens. Two words, two things:

- *close* (``close_peer``): the peer's database made read-only, by its
  agent (POST /fence, the agents' wire name, kept for rolling upgrades), or
  by its database when only that answers (quick to give up: a dead peer
  must not hold a failover up; the next cycle decides again, on the lease
  if the peer is gone). ``Database.close_writes`` is the same on this node.
- *fence* (``power_off``, the FencePeer action): the peer powered off
  through its fence device and confirmed off, as Pacemaker's STONITH."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hapair.agent.core import events as ev
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import Path
from hapair.agent.node.db import Database, DBError, Endpoint
from hapair.agent.node.peer import Contact, PeerClient, PeerError, still_answers
from hapair.fence import agent as fa
from hapair.fence.agent import FenceError

log = logging.getLogger("hapair.agent")
DEVICE_CHECK_S = 60.0


class Abort(Exception):
    """An action could not be carried out safely; the next cycle decides again."""


def close_peer(cfg: AgentConfig, client: PeerClient, admin_password: str,
               paths: tuple[Path, ...], contact: Contact) -> dict[str, object]:
    """The peer's agent's answer to a fence, or its database's. The agent's
    read-only answer renews this node's lease, as a poll answered read-only
    does: the peer counted the fence's arrival (after it was sent) as a sign
    of this node, so its own takeover clock starts no earlier than the send
    time. Not counted, the lease of a node promoted out of a live pair began
    at its last poll of a read-only peer, seconds before: already run out
    the moment the node was bound, so its lease watch closed it again
    0.1-0.4 s after it opened (seen in every switchover's samples)."""
    sent = time.monotonic()
    try:
        answer = client.post(paths, "/fence", {"by": cfg.node}, timeout=1.0)
        if renewed_by_fence(answer):
            contact.renewed(sent, time.monotonic())
        return answer
    except PeerError as agent_error:
        if "refused" not in str(agent_error).lower():
            # Silence on every path: the host is gone, not just its agent.
            raise Abort(f"could not fence {cfg.peer} ({agent_error}): not promoting") from None
        by_db = fence_database(cfg, admin_password)
        if by_db is None:
            raise Abort(f"could not fence {cfg.peer} ({agent_error}): not promoting") from None
        return by_db


def renewed_by_fence(answer: dict[str, object]) -> bool:
    """Whether a fence's answer renews the lease (pure): the peer's agent
    answered (it saw the fence arrive) and its database is read-only."""
    return answer.get("via") is None and answer.get("db_up") is True \
        and answer.get("read_only") is True


def fence_database(cfg: AgentConfig, admin_password: str,
                   seconds: float = 3.0) -> dict[str, object] | None:
    """read_only=ON on the peer's database directly, on every path at once.
    Nothing is killed there (no agent to stop its clients): a server whose
    commits wait for an acknowledgement does not take it, and this fails."""
    answers: list[dict[str, object]] = []

    def by_database(host: str) -> None:
        remote = Database(Endpoint(cfg.admin_user, admin_password, host, cfg.db_port))
        try:
            remote.close_writes(cfg.app_user, seconds=2)
            answers.append({"db_up": True, "gtid_binlog_pos": remote.probe().gtid_binlog_pos,
                            "via": f"its database at {host}"})
        except DBError:
            pass
        finally:
            remote.close()

    threads = [threading.Thread(target=by_database, args=(h,), daemon=True)
               for h in cfg.peer_addresses.values()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return answers[0] if answers else None


def power_off(cfg: AgentConfig, password: str) -> str:
    """The peer powered off through its fence device and confirmed off: the
    device says so (the agent's off succeeds only then) and the node answers on
    no path. The note, or FenceError. (Whether the host still answered before,
    decide() has seen: the poller probes it while its agent is silent.)"""
    f = cfg.fence
    if f is None:
        raise FenceError(f"{cfg.peer} has no fence device")
    started = time.monotonic()
    off = fa.run(f.agent, "off", f.options, password, f.timeout_s)
    if not off.ok:
        raise FenceError(f"{f.agent} off: exit {off.code} ({off.said})")
    # A fence agent's "off" succeeds only once the device reports the power off.
    # A process answering (a greeting, an accepted connection) means the node
    # runs. A bare refusal proves only a network stack holding the address,
    # with nothing listening: no database can be open there (and in the lab a
    # cut machine's namespace lingers, refusing, for seconds).
    answering = still_answers(cfg)
    if answering:
        raise FenceError(f"{f.agent} says off, but {cfg.peer} answers at "
                         f"{', '.join(answering)}: a failed fence")
    return f"{cfg.peer} powered off by {f.agent} in {time.monotonic() - started:.1f}s"


def watch_device(cfg: AgentConfig, password: str, record: Callable[[ev.Event], None]) -> None:
    """The peer's fence device answers (its status action), every minute:
    `hapair status` shows the last check, before a fence is ever needed."""
    f = cfg.fence
    assert f is not None
    while True:
        try:
            out = fa.run(f.agent, "status", f.options, password, f.timeout_s)
            power = fa.power_of("status", out.code)
            said = f"{power.value} ({out.seconds:.1f}s)" if out.ok else f"failed: {out.said}"
        except FenceError as exc:
            said = f"failed: {exc}"
        record(ev.FenceChecked(f"{time.strftime('%H:%M:%S')} {said}"))
        if said.startswith("failed"):
            log.warning("%s's fence device: %s", cfg.peer, said)
        time.sleep(DEVICE_CHECK_S)
