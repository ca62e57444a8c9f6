"""A change to a live cluster, rolled (pure): which restarts a change owes,
on which node first, and whether the VIP moves.

The convergence (`steps`) writes the files and notes on each node what they
call for (`ops.note`). Reloads keep every connection and every write, so
they run on both nodes at once as the files land: Apache's graceful reload,
keepalived's HUP (the holder keeps the VIP), the firewall's one-transaction
reload, sysctl. A restart stops what it restarts: on a live cluster those
are left noted and rolled here, one node at a time, the standby first, then,
only if the primary owes one, a planned switchover (0.44 s median longest
wait for a booking, docs/controller.md) and the old primary, now the
standby. Patroni's `restart` of a leader does the same (a switchover first
where a restart of the leader is needed). The primary's agent alone is
restarted in place: nothing moves (agent/restarting.py)."""

from __future__ import annotations

import configparser
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hapair.paths import SPEC_JSON
from hapair.render.mariadb import CONFIG_PATH

# What each note key calls for on a live cluster.
How = Literal["reload", "restart", "set"]

#: note key -> (unit, how, what the primary pays when it is done there)
KEYS: dict[str, tuple[str, How, str]] = {
    "apache": ("apache2", "reload", "nothing: a graceful reload, requests in flight finish"),
    "keepalived": ("keepalived", "reload", "nothing: the holder keeps the VIP"),
    "firewall": ("hapair-firewall", "reload", "nothing: the rules change in one transaction"),
    "sysctl": ("", "reload", "nothing"),
    "glusterd": ("glusterd", "reload", "nothing: the files on the volume only, for seconds "
                 "(the host's bricks restart with glusterd)"),
    "mariadb": ("mariadb", "restart", "a switchover: writes stop while the server restarts"),
    "agent": ("hapair-agent", "restart", "nothing when it is the only one: a restart in place, "
              "the database open and the VIP staying (agent/restarting.py)"),
    "app": ("hapair-app", "restart", "a switchover: the bookings' workers restart"),
}
#: the restarts rolled, in the order they are done on a node: the database
#: first (the agent then starts on the new server), the application last.
ROLLED = ("mariadb", "agent", "app")
#: After a switchover, the old primary's restarts wait this long: its
#: application's restart (a gunicorn starting its workers: seconds of CPU)
#: beside the new primary while every client reconnects to it cost 2-3 s
#: without a booking in the lab, where the nodes share two cores.
MOVE_S = 3.0


@dataclass(frozen=True)
class Step:
    node: str
    kind: Literal["restart", "switchover", "wait"]
    unit: str = ""  # restart: the unit; switchover: the node promoted
    key: str = ""  # restart: the note it clears
    why: str = ""
    pause_s: float = 0.0  # wait: once settled, this long more
    in_place: bool = False  # restart: the primary's agent, asked first (agent/restarting.py)

    def line(self) -> str:
        if self.kind == "restart":
            where = " in place" if self.in_place else ""
            return f"{self.node}: restart {self.unit}{where} ({self.why})"
        if self.kind == "switchover":
            return f"switchover to {self.unit} (the VIP moves): {self.why}"
        return f"{self.node}: wait until {self.why}"


@dataclass(frozen=True)
class Roll:
    steps: tuple[Step, ...]
    vip_moves: bool

    def lines(self) -> list[str]:
        return [s.line() for s in self.steps] or ["no restart owed: nothing to roll"]


def plan(owed: Mapping[str, frozenset[str]], primary: str, standby: str) -> Roll:
    """The roll for the restarts noted on each node: the standby first, then
    a switchover and the old primary, only if the primary owes a restart."""
    steps: list[Step] = []

    def restarts(node: str, role: str) -> None:
        keys = [k for k in ROLLED if k in owed.get(node, frozenset())]
        for k in keys:
            steps.append(Step(node, "restart", KEYS[k][0], k, f"{k} changed, {role}"))
        if keys:
            # An application answers its first check with one worker loaded;
            # the wait is for all of them (the agent's app_loading): a
            # switchover onto the others' loading stalled every client.
            steps.append(Step(node, "wait", why="it is a complete replica again, every "
                              "worker of its application loaded and Apache answering"))

    restarts(standby, "the standby")
    mine = [k for k in ROLLED if k in owed.get(primary, frozenset())]
    if mine == ["agent"]:
        # The agent alone: restarted in place, the VIP and the writes staying.
        steps.append(Step(primary, "restart", KEYS["agent"][0], "agent",
                          "agent changed, the primary: the VIP stays and writes go on",
                          in_place=True))
        steps.append(Step(primary, "wait", why="its next agent holds the primary's lease"))
        return Roll(tuple(steps), False)
    if mine:
        steps.append(Step(primary, "switchover", standby, why=f"{primary} owes a restart of "
                          f"{', '.join(KEYS[k][0] for k in mine)}"))
        steps.append(Step(standby, "wait", why=f"it serves the bookings, then {MOVE_S:.0f}s "
                          "more for its clients to move", pause_s=MOVE_S))
        restarts(primary, "the standby since the switchover")
    return Roll(tuple(steps), bool(mine))


# ---- MariaDB: a variable that can be set at run time needs no restart ------------------

#: hapair's settings that MariaDB can change on a running server (SET GLOBAL)
#: without stopping replication. Any other changed line calls for a restart.
DYNAMIC = frozenset({
    "rpl_semi_sync_master_timeout", "rpl_semi_sync_slave_kill_conn_timeout",
    "slave_net_timeout",
})


def _settings(text: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return dict(parser["mariadbd"]) if parser.has_section("mariadbd") else None


def mariadb_dynamic(old: str, new: str) -> dict[str, str] | None:
    """The variables to SET GLOBAL when the config changed from old to new
    only in variables that a running server takes; None when a restart is
    needed (anything else changed, or either text does not parse)."""
    before, after = _settings(old), _settings(new)
    if before is None or after is None:
        return None
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if not changed or not changed <= DYNAMIC or not changed <= after.keys():
        return None
    return {k: after[k] for k in sorted(changed)}


# ---- the agent: a spec change that it does not read needs no restart ------------------

#: Parts of the spec the agent never reads (its unit reads none of them
#: either): the application's settings but its port, Apache's limits,
#: keepalived's own timing, MariaDB's variables above, the firewall, backups
#: and the lab. tests/unit/test_rolling.py checks that `hapair.agent` names
#: none of them.
NOT_THE_AGENTS: dict[str, tuple[str, ...]] = {
    "web": ("*", "port"),  # everything but the port
    "database": ("semi_sync_timeout_ms", "parallel_threads"),
    "timing": ("advert_interval_s", "check_interval_s", "check_timeout_s", "fall", "rise"),
    "firewall": ("*",),
    "backup": ("*",),
    "lab": ("*",),
}


def for_agent(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec (as the JSON the agent reads) without what the agent never reads."""
    out = dict(spec)
    for part, fields in NOT_THE_AGENTS.items():
        section = out.get(part)
        if not isinstance(section, dict):
            continue
        if fields[0] == "*":
            out[part] = {k: v for k, v in section.items() if k in fields[1:]}
        else:
            out[part] = {k: v for k, v in section.items() if k not in fields}
    return out


#: the files whose old text `calls_for_nothing` reads (apply reads them first)
JUDGED = (SPEC_JSON, CONFIG_PATH)


def calls_for_nothing(path: str, old: str, new: str) -> bool:
    """Whether a file's change from old to new calls for no restart: the
    agent's spec changed only where the agent never reads it, or MariaDB's
    config only in variables a running server takes (set by db_steps)."""
    if not old:
        return False
    if path == SPEC_JSON:
        try:
            return for_agent(json.loads(old)) == for_agent(json.loads(new))
        except ValueError:
            return False
    return path == CONFIG_PATH and mariadb_dynamic(old, new) is not None
