"""What one cycle of the agent sees: a frozen view of this node, its peer and
what the agent remembers from earlier cycles. Built by the probes, read by
``decide``; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hapair.probes.keepalived import State
from hapair.probes.mariadb import SemiSync, SlaveStatus

Path = Literal["interconnect", "public"]
PATHS: tuple[Path, ...] = ("interconnect", "public")


@dataclass(frozen=True)
class LocalDB:
    """The local MariaDB, as the agent's own connection saw it."""

    up: bool
    error: str = ""
    read_only: bool = True
    gtid_binlog_pos: str = ""
    gtid_current_pos: str = ""
    gtid_slave_pos: str = ""
    semi_master_enabled: bool = False
    semi_slave_enabled: bool = False
    slave: SlaveStatus = SlaveStatus()
    semi: SemiSync = SemiSync(False, 0, 0, 0, False)
    epoch: int = 0
    epoch_primary: str = ""
    epoch_age_s: float = 1e9  # since the last promotion, by the database's clock


@dataclass(frozen=True)
class PeerStatus:
    """What the peer's agent published (its /status), as JSON-friendly fields."""

    node: str
    db_up: bool
    read_only: bool
    epoch: int
    epoch_primary: str
    gtid_binlog_pos: str
    holds_vip: bool
    keepalived_running: bool
    semi_master_on: bool
    semi_clients: int
    io_running: str
    master_host: str
    complete: bool
    eligible: bool
    paused: bool
    fenced_by: str = ""
    gtid_current_pos: str = ""  # binlog and applied positions together

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PeerStatus:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def writable(self) -> bool:
        return self.db_up and not self.read_only


@dataclass(frozen=True)
class Peer:
    status: PeerStatus | None  # the freshest answer on any path, None if none
    paths: tuple[Path, ...]  # the paths on which its agent answered last round
    answered_at: float = 0.0  # monotonic time of that answer


@dataclass(frozen=True)
class Memory:
    """What the agent carries from cycle to cycle (and only this)."""

    # This node holds every transaction the primary confirmed (see learn()).
    complete: bool = False
    # Monotonic times: the send time of this agent's last answered poll of the
    # peer (the primary's lease runs from it), and the last sign of life from
    # the peer (its poll of us arriving, or our poll answered).
    lease_renewed: float = 0.0
    peer_seen: float = 0.0
    # The peer's completeness as it last reported it.
    peer_complete: bool = False
    paused: bool = False
    degraded: bool = False  # the operator let the primary commit alone
    fenced_by: str = ""  # the peer that fenced us: we do not reopen until it is settled
    fenced_at: float = 0.0
    switchover_to: str = ""  # a planned switchover to this node, asked by the CLI
    force: bool = False  # promote even if not known complete (operator)
    unhealthy_since: float = 0.0  # the application or Apache failing since (0: healthy)
    last_heal: float = 0.0  # when the agent last restarted one of them


@dataclass(frozen=True)
class View:
    now: float  # monotonic
    node: str
    peer_name: str
    keepalived_running: bool
    vrrp: State  # the last state keepalived reported on its FIFO
    holds_vip: bool
    db: LocalDB
    app_ok: bool
    apache_ok: bool
    health_problem: str
    peer: Peer
    memory: Memory = field(default_factory=Memory)
    vip_since: float = 0.0  # monotonic time this node last took the VIP
    link_ok: bool = True  # the VIP's network interface has carrier

    @property
    def healthy(self) -> bool:
        return self.app_ok and self.apache_ok and self.link_ok
