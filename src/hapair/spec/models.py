"""The cluster spec as typed, frozen models: the cluster's own here, the
machines' under it in :mod:`hapair.spec.hardware`, the web tier's in
:mod:`hapair.spec.web`, the field types in :mod:`hapair.spec.types`.

Structure and types live in these modules; rules that relate fields to each other (an
address inside its network, unique names, timing that keeps detection sane)
live in :mod:`hapair.spec.rules`, so that one run can report all of them.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any, Literal

from pydantic import Field, model_validator

from hapair.spec.hardware import FenceDevice, Lab, NetworkName, Networks, Storage
from hapair.spec.types import AbsPath, Frozen, HostName, Port, SqlName, SshHost, UserName
from hapair.spec.web import Web

# What the spec's model takes; validate accepts SUPPORTED_NODES (spec/rules.py).
MAX_NODES = 5
SUPPORTED_NODES = 2


class Node(Frozen):
    name: HostName
    ssh: SshHost = Field(description="address or host name used for SSH")
    ssh_port: Port = 22
    ssh_user: UserName = "root"
    interconnect: IPv4Address
    public: IPv4Address
    priority: int = Field(ge=1, le=254)
    server_id: int = Field(ge=1, le=4_294_967_295)
    fence: FenceDevice | None = None

    def address(self, network: NetworkName) -> IPv4Address:
        return self.interconnect if network == "interconnect" else self.public


class Vip(Frozen):
    address: IPv4Address
    network: NetworkName = "public"
    vrid: int = Field(default=51, ge=1, le=255)


class DbUsers(Frozen):
    app: SqlName = "roombook"  # the application at run time: data changes only
    migration: SqlName = "roombook_migrate"  # web.setup (migrations): may change tables
    replication: SqlName = "repl"
    admin: SqlName = "hapair"


class Database(Frozen):
    engine: Literal["mariadb"] = "mariadb"
    name: SqlName = "roombook"
    port: Port = 3306
    durability: Literal["semi-sync", "async"] = "semi-sync"
    # Semi-sync must not fall back to asynchronous by itself (an expired timeout
    # commits and silently goes async): the timeout is as long as MariaDB allows,
    # and the agent decides what happens when the standby is lost.
    semi_sync_timeout_ms: int = Field(default=4_294_967_295, ge=1_000)
    parallel_threads: int = Field(default=4, ge=0, le=64)
    datadir: AbsPath = "/var/lib/mysql"
    users: DbUsers = DbUsers()


class Volume(Frozen):
    """The GlusterFS volume that holds the static files on every node."""

    name: SqlName = "static"
    brick_path: AbsPath = "/srv/gluster/static/brick"
    mount_point: AbsPath = "/srv/static"
    bricks_on: tuple[HostName, ...] | None = None
    arbiter: HostName | None = None
    ping_timeout_s: int = Field(default=3, ge=1, le=60)
    heal_timeout_s: int = Field(default=10, ge=5, le=600)

    def brick_nodes(self, nodes: tuple[Node, ...]) -> tuple[str, ...]:
        return self.bricks_on if self.bricks_on is not None else tuple(n.name for n in nodes)


class Timing(Frozen):
    """How fast failures are seen.

    The agent reports its verdict to keepalived at once through a tracked file
    (every ``agent_interval_s``); keepalived's own health check of the agent
    (whole seconds only, as keepalived counts them) is the backstop for an
    agent that stopped answering."""

    advert_interval_s: float = Field(default=0.1, ge=0.01, le=40.95)
    agent_interval_s: float = Field(default=0.2, ge=0.05, le=10)
    check_interval_s: int = Field(default=1, ge=1, le=60)
    check_timeout_s: int = Field(default=1, ge=1, le=60)
    fall: int = Field(default=2, ge=1, le=20)
    rise: int = Field(default=2, ge=1, le=20)
    failover_window_s: int = Field(default=60, ge=0, le=86_400)

    # The agent's lease arithmetic (docs/controller.md, "The timing
    # inequality"): the primary stops writes after lease_s without its
    # standby (and the database itself, should the agent not); the standby
    # opens only after lease_s + margin_s without a sign of the primary; a
    # frozen agent is killed by systemd's watchdog after watchdog_s and its
    # database closed by the stop hook. Each is derived from
    # agent_interval_s unless set; validate refuses numbers that would let
    # the standby open before the primary has closed (spec/lease.py).
    lease_s: float = Field(default=0.0, ge=0.1, le=60)
    margin_s: float = Field(default=0.0, ge=0.05, le=60)
    # At least two of the agent's pings (every 0.05 s, agent/guard.py).
    watchdog_s: float = Field(default=0.0, ge=0.1, le=60)

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        i = data.get("agent_interval_s", 0.2)
        if not isinstance(i, int | float):
            return data  # its own error is reported
        out = {"lease_s": max(4 * i, 0.5), "margin_s": max(2 * i, 0.3), **data}
        lease = out["lease_s"]
        if "watchdog_s" not in out and isinstance(lease, int | float):
            out["watchdog_s"] = round(lease / 2, 3)
        return out


class Witness(Frozen):
    """A third, small host: the third etcd member (and the Gluster arbiter
    when the volume names it). It sits on the public network, like etcd's
    traffic (see docs/controller.md, "The witness")."""

    name: HostName
    address: IPv4Address  # on the public network: etcd's peers and clients
    ssh: SshHost | None = Field(default=None,
                                description="address or host name used for SSH (default: address)")
    ssh_port: Port = 22
    ssh_user: UserName = "root"
    port: Port = 2379  # etcd's client port (its peers talk on the next one)

    @property
    def ssh_host(self) -> str:
        return self.ssh or str(self.address)


class Fencing(Frozen):
    """How the nodes use their fence devices."""

    # In a partition both nodes try to fence each other: the primary at once,
    # the other after this delay (Pacemaker's priority fencing delay), so that
    # exactly one survives.
    delay_s: float = Field(default=2.0, ge=0, le=60)
    timeout_s: float = Field(default=20.0, ge=1, le=300)  # one fence agent call


class Agent(Frozen):
    port: Port = 8008


class Alerts(Frozen):
    """Who hears of a role change, a fence, a pause: the executables in a
    folder on each node, and a webhook (a JSON POST, signed with the secrets
    file's webhook_secret)."""

    hooks_dir: AbsPath = "/etc/hapair/hooks.d"
    webhook: str | None = Field(default=None, pattern=r"^https?://[^\s\x00]{1,2000}\Z")
    timeout_s: float = Field(default=10.0, ge=0.5, le=120)  # one hook or one POST
    retries: int = Field(default=3, ge=0, le=10)  # of a POST that failed


class Firewall(Frozen):
    """nftables rules on every node and the witness: SSH from anywhere; the
    web on the VIP from anywhere, on the nodes' own addresses only from the
    cluster's hosts and `admin_from`; the database, the agents' API, etcd,
    Gluster and VRRP only from the cluster's own hosts; the agents' API also
    from `admin_from` (the operators' hosts, monitoring); everything else
    dropped."""

    enabled: bool = True
    admin_from: tuple[IPv4Network, ...] = ()
    # Open web connections one client address may hold on a node (the VIP's
    # ports): one slow or greedy client cannot take every Apache worker
    # (web.max_connections). A new connection over it is reset. 0: no cap.
    web_connections_per_source: int = Field(default=100, ge=0, le=65_535)


class Backup(Frozen):
    """Where `hapair backup` keeps what it takes (on the host that runs it: the
    operator's, or a backup host), and how many good backups it keeps."""

    dir: AbsPath = "/var/backups/hapair"
    keep: int = Field(default=7, ge=1, le=1000)
    # When `hapair backup --timer` takes one: a systemd OnCalendar expression.
    schedule: str = Field(default="daily", pattern=r"^[A-Za-z0-9 :*,./~-]{1,100}\Z")
    # How often the archiving service (`--timer` installs it) fetches the
    # nodes' new binary logs: a restore can reach at most this far back from
    # the loss of both nodes.
    binlogs_every_s: float = Field(default=10.0, ge=1.0, le=3600.0)


class ClusterSpec(Frozen):
    name: HostName
    # Two for now: the model takes up to five, validate refuses more than two
    # until the agents run three (docs/three-nodes.md).
    nodes: tuple[Node, ...] = Field(min_length=2, max_length=MAX_NODES)
    networks: Networks
    vip: Vip
    database: Database = Database()
    volume: Volume = Volume()
    web: Web = Web()
    timing: Timing = Timing()
    agent: Agent = Agent()
    alerts: Alerts = Alerts()
    storage: Storage | None = None
    witness: Witness | None = None
    fencing: Fencing = Fencing()
    firewall: Firewall = Firewall()
    backup: Backup = Backup()
    lab: Lab = Lab()

    @property
    def fenced(self) -> bool:
        """Both nodes have a fence device: either may power the other off."""
        return all(n.fence is not None for n in self.nodes)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def host(self, name: str) -> Node | Witness:
        """A node, or the witness, by name."""
        if self.witness is not None and self.witness.name == name:
            return self.witness
        return self.node(name)

    def others(self, node: Node) -> tuple[Node, ...]:
        """Every node but this one, in the spec's order."""
        return tuple(n for n in self.nodes if n.name != node.name)

    def peer(self, node: Node) -> Node:
        """A pair's other node (the code of the pair alone; others() for N)."""
        (other,) = self.others(node)
        return other
