"""The agent's commands (POST on its API, token required): fence, pause,
resume, degrade, maintenance, reboot, switchover, restart-in-place
(agent/restarting.py). Each records intent in the agent's memory; the loop
acts on it. Fencing acts at once, before anything is written to disk."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from hapair.agent import restarting
from hapair.agent.core import command_rules as rules
from hapair.agent.core import events as ev
from hapair.agent.node import observe
from hapair.agent.node.db import DBError

if TYPE_CHECKING:
    from hapair.agent.node.db import Database
    from hapair.agent.node.peer import Contact

log = logging.getLogger("hapair.agent")


class Commanded(restarting.Restartable, Protocol):
    """What the operator's commands read and touch of the agent."""

    contact: Contact
    fence_db: Database
    open_lock: threading.Lock

    def stop_app(self) -> None: ...

    def alert(self, event: str, detail: str) -> None: ...

    def save_intent(self) -> str: ...

    def write_track(self, eligible: bool) -> None: ...


Answer = tuple[int, dict[str, Any]]
SWITCHOVER_WAIT_S = 30.0
# A fenced node that holds the VIP keeps it this long: the requests in flight
# here get their answer (a quick 503 now that the database is read-only, and
# the client retries) before the address moves. An answer sent after it moved
# never reaches its client, who waits out its own timeout instead (measured: a
# planned switchover blocked bookings ~1.4 s, all of it clients' 1 s timeouts,
# while the promotion took 0.08 s). Read-only, the node can confirm nothing.
DRAIN_S = 0.25
# And once it moved, keeps it on lo a moment (observe.LINGER_S).


# The operator's commands, each a POST /NAME with the API token (agent/api/routes.py).
NAMES = ("fence", "pause", "resume", "degrade", "maintenance", "reboot", "switchover",
         "restart-in-place")


def command(agent: Commanded, name: str, body: dict[str, Any]) -> Answer:
    handlers = {"fence": lambda: fenced(agent, str(body.get("by") or "?")),
                "pause": lambda: _pause(agent, True),
                "resume": lambda: _pause(agent, False),
                "degrade": lambda: _degrade(agent),
                "maintenance": lambda: _maintenance(agent, body.get("on")),
                "reboot": lambda: _reboot(agent),
                "switchover": lambda: _switchover(agent, bool(body.get("force"))),
                "restart-in-place": lambda: restarting.announce(agent, asked(agent))}
    handler = handlers.get(name)
    if handler is None:
        return 404, {"error": f"no command {name!r}"}
    return handler()


def fenced(agent: Commanded, by: str) -> Answer:
    """At once, whatever the loop is doing: a promotion under way checks
    fenced_by before it opens, and this uses a connection of its own."""
    cfg = agent.cfg
    why = rules.fence(agent.memory.task, cfg.node, by)
    if why:
        return 409, {"error": why}
    v = agent.view
    drain = v is not None and v.holds_vip and v.keepalived_running
    if drain:  # the loop must not release the VIP before the drain either
        agent.record(ev.Draining(time.monotonic() + DRAIN_S))
    # The fencer counts its fence's read-only answer as its lease renewed from
    # the send time (fencing.close_peer): this node's clock for taking over
    # starts at the arrival, which is later.
    agent.contact.seen(time.monotonic())
    with agent.open_lock:  # an opening under way either sees this or is undone below
        agent.record(ev.FencedBy(by, time.monotonic()))
    # The database first: nothing below (a full disk, a missing address) may
    # stand between a fence and read_only=ON.
    try:
        agent.fence_db.close_writes(cfg.app_user, stop_clients=agent.stop_app)
        state = agent.fence_db.probe()
    except DBError as exc:
        log.warning("fenced by %s; the database does not answer (%s)", by, exc)
        agent.record(ev.Draining(0.0))
        _release(agent)
        return 200, {"db_up": False}
    if drain:
        threading.Timer(DRAIN_S, _release, (agent, True)).start()
        vip = f"VIP released in {DRAIN_S:g}s (answers in flight first)"
    else:
        _release(agent)
        vip = "VIP released"
    agent.alert("fenced", f"by {by}")
    log.info("fenced by %s: read_only=ON, application sessions killed, %s", by, vip)
    return 200, {"db_up": state.up, "read_only": state.read_only,
                 "gtid_binlog_pos": state.gtid_binlog_pos}


def _release(agent: Commanded, linger: bool = False) -> None:
    """After a fence: keepalived told this node is not eligible, the VIP
    dropped if keepalived is not there to do it; after a drain, the VIP kept
    on lo a moment (observe.LINGER_S) for the answers still in flight. Best effort,
    logged."""
    cfg, v = agent.cfg, agent.view
    try:
        if linger:
            observe.linger_for(cfg.vip, observe.LINGER_S)
        agent.write_track(False)
        if v is not None and v.holds_vip and not v.keepalived_running:
            observe.drop_address(cfg.vip_device, cfg.vip, cfg.vip_prefix)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("fenced, but could not release the VIP: %s", exc)


def _pause(agent: Commanded, on: bool) -> Answer:
    agent.record(ev.Paused(on))
    log.info("paused by the operator: no automatic failover" if on
             else "resumed by the operator")
    agent.alert("pause" if on else "resume", "by the operator")
    return _persisted(agent, {"paused": on})


def _maintenance(agent: Commanded, on: object) -> Answer:
    """Out of failover, or back in. Not for a writable primary: the VIP and
    the writes would have nowhere to go (`hapair maintenance` switches over
    first)."""
    if not isinstance(on, bool):
        return 400, {"error": "the body needs \"on\": true or false"}
    why = rules.maintenance(asked(agent), on)
    if why:
        return 409, {"error": why}
    if on != agent.memory.maintenance:
        agent.record(ev.Maintenance(on))
        log.info("maintenance on, by the operator: out of failover (replicating, never taking "
                 "the VIP or promoting)" if on else "maintenance off, by the operator: in "
                 "failover again")
        agent.alert("maintenance", "on" if on else "off")
        agent.wake.set()
    return _persisted(agent, {"maintenance": on})


def asked(agent: Commanded) -> rules.Asked:
    """The agent as a command judges it (agent/core/command_rules.py)."""
    return rules.Asked(agent.cfg.node, agent.cfg.peer, agent.view, agent.decision,
                       agent.memory, bool(agent.peer.paths), time.monotonic())


REBOOT_AFTER_S = 0.5  # the answer first


def _reboot(agent: Commanded) -> Answer:
    """The machine rebooted (`hapair reboot` asks, after maintenance on):
    only a read-only node in maintenance, so no reboot ever takes the
    primary or the one node that would take over."""
    why = rules.reboot(asked(agent))
    if why:
        return 409, {"error": why}
    log.warning("rebooting, asked by the operator (in maintenance)")
    agent.alert("reboot", "by the operator")
    threading.Timer(REBOOT_AFTER_S, subprocess.run,
                    (["systemctl", "reboot", "--no-block"],), {"check": False}).start()
    return 200, {"rebooting": agent.cfg.node}


def _persisted(agent: Commanded, answer: dict[str, Any]) -> Answer:
    """The intent holds in memory at once; saving it may fail (a full disk)."""
    problem = agent.save_intent()
    if problem:
        return 500, {**answer, "error": f"in effect, but not saved for a restart: {problem}"}
    return 200, answer


def _degrade(agent: Commanded) -> Answer:
    cfg = agent.cfg
    why = rules.degrade(asked(agent))
    if why:
        return 409, {"error": why}
    agent.record(ev.Degraded())
    log.warning("degraded by the operator: committing without %s", cfg.peer)
    agent.alert("degrade", f"committing without {cfg.peer}, by the operator")
    agent.wake.set()
    return _persisted(agent, {"degraded": True})


def _switchover(agent: Commanded, force: bool) -> Answer:
    cfg = agent.cfg
    why = rules.switchover(asked(agent), force)
    if why:
        return 409, {"error": why}
    agent.record(ev.SwitchoverAsked(force, to=cfg.node))
    agent.wake.set()
    deadline = time.monotonic() + SWITCHOVER_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if agent.memory.switchover_to == "":
            return 200, {"primary": cfg.node, "reason": _reason(agent)}
    agent.record(ev.SwitchoverDropped())
    return 504, {"error": f"the switchover did not finish within {SWITCHOVER_WAIT_S:.0f}s",
                 "reason": _reason(agent)}


def _reason(agent: Commanded) -> str:
    return agent.decision.reason if agent.decision else ""
