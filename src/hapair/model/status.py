"""The status document an agent publishes on /status: one type, read by the
peer's agent, by `hapair status` and by the drills. Versioned; a document with
keys this side does not know, or lacking keys it expects, is still read (the
defaults are safe: not writable, not complete, not eligible) and the
difference is reported, never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from hapair.model.roles import Condition, Role
from hapair.probes.mariadb import Thread

VERSION = 1


class StatusDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    version: int = VERSION
    node: str
    time: float = 0.0  # the agent's wall clock when it answered
    started_at: float = 0.0  # when this agent started (wall clock): newer after a reboot
    pending: list[str] = []  # restarts or reloads apply left owed here (the roll's to do)
    # the local database
    db_up: bool = False
    read_only: bool = True
    epoch: int = 0
    epoch_primary: str = ""
    gtid_binlog_pos: str = ""
    gtid_slave_pos: str = ""
    gtid_current_pos: str = ""  # binlog and applied positions together
    gtid_io_pos: str = ""
    semi_master_on: bool = False  # waiting for acknowledgements now
    semi_clients: int = 0
    semi_master_enabled: bool = False
    io_running: Thread = Thread.NONE
    sql_running: Thread = Thread.NONE
    master_host: str = ""
    last_io_error: str = ""
    last_sql_error: str = ""
    # the node
    holds_vip: bool = False
    keepalived_running: bool = False
    vrrp: str = "UNKNOWN"
    view_age_s: float = 0.0  # how old the view behind this answer is (a stuck loop's grows)
    app_ok: bool = False
    apache_ok: bool = False
    health_problem: str = ""
    app_loading: str = ""  # "" once every application worker has loaded it
    peer_paths: list[str] = []
    # the agent's judgement
    complete: bool = False
    eligible: bool = False
    paused: bool = False
    maintenance: bool = False
    degraded: bool = False
    fenced_by: str = ""
    role: Role = Role.STARTING
    reason: str = "starting"
    problem: bool = False
    condition: Condition = Condition.NONE
    task: str = ""  # a long action under way ("rebuilding from node1")
    task_s: float = 0.0  # for how long
    # fencing, when the nodes have fence devices
    peer_off: bool = False  # the peer was powered off through its device (and is silent)
    # A replica's agent stopping on purpose (a restart): it never promotes
    # again, and its next agent starts incomplete (agent/stopping.py).
    stopping: bool = False
    peer_stopped: bool = False  # this node saw its peer stop so, and not its next agent yet
    # A primary's agent restarting in place (agent/restarting.py): back within
    # this many seconds of this answer, its database open meanwhile (0: not).
    back_within_s: float = 0.0
    peer_back: bool = False  # this node took its peer's window: no takeover before it ends
    fence_note: str = ""  # the last fence attempt
    fence_check: str = ""  # the last check of the peer's device
    # the witness, when the spec names one: what its etcd said to this node
    witness: bool = False  # the spec names a witness
    witness_ok: bool = False  # a majority answered this node's last read
    witness_error: str = ""
    witness_leader: str = ""  # the leader key's holder, and its epoch
    witness_epoch: int = 0
    witness_complete: str = ""  # the node the sync record names complete
    witness_key_age_s: float = 0.0  # since the leader key last changed, as seen here
    # the spec's bonds and RAID array as the kernel reports them (agent/core/hardware.py)
    bonds: list[dict[str, Any]] = []
    arrays: list[dict[str, Any]] = []
    hardware_missing: list[str] = []
    history: list[dict[str, Any]] = []
    # When this node became the primary, and how long from leaving the
    # replica role ({"at", "took_s", "why"}; agent/node/journal.py).
    promotions: list[dict[str, Any]] = []
    # When this node's database was closed for it by a self-fence ({"at",
    # "by": guard | lease-watch | stop-hook, "took_s", "budget_s", "what"}):
    # the measured terms of the timing inequality (spec/lease.py).
    self_fences: list[dict[str, Any]] = []
    # The summary served without the read credential: no positions, errors
    # or history (their defaults stand in).
    summary: bool = False

    @property
    def writable(self) -> bool:
        return self.db_up and not self.read_only

    @property
    def replicating(self) -> bool:
        return self.io_running is Thread.RUNNING


class StatusError(ValueError):
    pass


def read(data: object) -> tuple[StatusDoc, list[str]]:
    """A document and what differs from this side's idea of it (unknown keys,
    missing keys, another version). StatusError if it is not one at all."""
    if not isinstance(data, dict):
        raise StatusError(f"a status document is a JSON object, not {type(data).__name__}")
    try:
        doc = StatusDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StatusError(f"status field {where}: {first['msg']}") from None
    notes = []
    if doc.version != VERSION:
        notes.append(f"version {doc.version} (this side reads {VERSION})")
    if doc.model_extra:
        notes.append("unknown keys: " + ", ".join(sorted(doc.model_extra)))
    missing = set(StatusDoc.model_fields) - set(data) - {"version"}
    if doc.summary:
        notes.append("a summary only: the agent refused the read credential "
                     "(the secrets file of another cluster?)")
    elif missing:
        notes.append("missing keys: " + ", ".join(sorted(missing)))
    return doc, notes


@dataclass(frozen=True)
class NodeStatus:
    """One node's agent as the operator's side sees it."""

    node: str
    doc: StatusDoc | None  # None: its agent did not answer
    unreachable: str = ""  # why it did not
    notes: tuple[str, ...] = ()  # how its document differs from this side's idea of it
