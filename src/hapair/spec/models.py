"""The cluster spec as typed, frozen models.

Structure and types live here; rules that relate fields to each other (an
address inside its network, unique names, timing that keeps detection sane)
live in :mod:`hapair.spec.rules`, so that one run can report all of them.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IfName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}\Z")]
HostName = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")]
# An absolute path of plain characters, without a ".." segment.
AbsPath = Annotated[str, Field(pattern=r"^(?!.*/\.\.(/|$))/[A-Za-z0-9_./-]*\Z")]
# A host to reach over SSH: a name or an IPv4 address, nothing a connector
# (pyinfra's "@local", "@docker/...") or an option ("-o...") could be read as.
SshHost = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")]
UserName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}\Z")]
DnsName = Annotated[str, Field(
    pattern=r"^(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")]
# One line of text: what an environment file can hold.
EnvValue = Annotated[str, Field(pattern=r"^[^\n\r\x00]{0,4096}\Z")]
# A command of the application's: its program (in the venv's bin/) and words.
SetupCommand = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+( [^\n\r\x00;&|`$<>]*)?\Z")]
SqlName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}\Z")]
Port = Annotated[int, Field(ge=1, le=65535)]

#: The modes the Linux bonding driver knows (Documentation/networking/bonding.rst).
BOND_MODES = (
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
)


#: What a web.env value may name ({db_host}, ...): render fills them in.
PLACEHOLDERS = ("db_host", "db_port", "db_name", "db_user", "db_password", "secret_key",
                "static_dir", "node")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", regex_engine="python-re")


class Bond(Frozen):
    name: IfName
    # A plain string: whether the driver knows it is a rule (hapair.spec.rules),
    # so that a wrong mode is reported together with every other mistake.
    mode: str
    interfaces: tuple[IfName, ...] = Field(min_length=1)
    primary: IfName | None = None
    miimon_ms: int = Field(default=100, ge=0, le=10_000)


class Network(Frozen):
    cidr: IPv4Network
    bond: Bond | None = None
    interface: IfName | None = None
    gateway: IPv4Address | None = None

    @property
    def device(self) -> str:
        """The interface that carries this network on every node."""
        if self.bond is not None:
            return self.bond.name
        return self.interface or "eth0"


class Networks(Frozen):
    interconnect: Network
    public: Network


NetworkName = Literal["interconnect", "public"]


# Fence agent options hapair sets itself: the action, and the password (secrets).
FENCE_RESERVED = frozenset({"action", "password", "passwd", "password_script", "passwd_script"})
FenceAgentName = Annotated[str, Field(pattern=r"^fence_[a-z0-9_]{1,40}\Z")]
FenceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}\Z")]
FenceValue = Annotated[str, Field(pattern=r"^[^\s\x00]{0,200}\Z")]


class FenceDevice(Frozen):
    """How to power this node off: a fence agent of the standard collection
    (Debian's fence-agents: fence_ipmilan, fence_redfish, fence_virsh, ...)
    and its options. Its password comes from the secrets file
    (``fence_passwords.NODE``), never from the spec."""

    agent: FenceAgentName
    options: dict[FenceKey, FenceValue] = Field(default_factory=dict)


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


class Storage(Frozen):
    """A software RAID array (mdadm) holding the node's data."""

    array: AbsPath = "/dev/md0"
    level: Literal[0, 1, 5, 6, 10]
    devices: tuple[AbsPath, ...] = Field(min_length=2)
    filesystem: Literal["ext4", "xfs"] = "ext4"
    mount_point: AbsPath = "/srv/data"


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


class WebLimits(Frozen):
    """What one client may ask of Apache, so that a slow or greedy one cannot
    take the workers that everybody's bookings need (`render` shows them in
    the Apache site). Apache reads a request's headers and body itself, at
    the rates below, before the application sees it."""

    # Apache's workers (event MPM: MaxRequestWorkers); the firewall caps one
    # address at firewall.web_connections_per_source of them.
    max_connections: int = Field(default=400, ge=25, le=20_000)
    # A request's headers: within header_timeout_s, extended by a second per
    # 500 bytes received, at most header_max_s (mod_reqtimeout).
    header_timeout_s: int = Field(default=10, ge=1, le=300)
    header_max_s: int = Field(default=20, ge=1, le=600)
    # A body must keep coming at body_min_rate bytes a second (after its
    # first body_timeout_s); a client slower than that is cut off with 408.
    body_timeout_s: int = Field(default=10, ge=1, le=300)
    body_min_rate: int = Field(default=8000, ge=100, le=10_000_000)
    # The largest body a request may carry (413 beyond): upload_max_bytes on
    # the paths under upload_paths (roombook's room photos), body_max_bytes
    # elsewhere.
    body_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=2**31 - 1)
    upload_paths: tuple[Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]*\Z")], ...] = (
        "/admin/rooms",)
    upload_max_bytes: int = Field(default=6 * 1024 * 1024, ge=1024, le=2**31 - 1)
    # gunicorn's --timeout: a worker silent this long is killed and replaced.
    app_timeout_s: int = Field(default=30, ge=2, le=3600)


class Web(Frozen):
    app: str = Field(default="roombook.wsgi:app", pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")
    workers: int = Field(default=4, ge=1, le=64)
    # Threads per worker (gthread): a slow request does not stall health checks.
    threads: int = Field(default=4, ge=1, le=64)
    port: Port = 8000
    static_url: str = Field(default="/static", pattern=r"^(?!.*/\.\.(/|$))/[A-Za-z0-9_./-]*\Z")
    server_name: DnsName | None = None
    # HTTPS on 443, plain HTTP redirected to it (but /healthz, for local
    # checks): "cluster-ca" (a certificate from the cluster CA, made by apply,
    # for the VIP and server_name), "files" (the operator's own, at tls_cert and
    # tls_key on every node: a public CA's, certbot's), or "off".
    tls: Literal["cluster-ca", "files", "off"] = "cluster-ca"
    tls_cert: AbsPath | None = None
    tls_key: AbsPath | None = None
    venv: AbsPath = "/opt/hapair/app"
    # Where apply gets the application: a source folder (with a pyproject) or a
    # wheel, relative to the spec file; without it apply leaves the app alone.
    source: str | None = None
    # The application's environment. Values may name {db_host}, {db_port},
    # {db_name}, {db_user}, {db_password}, {secret_key}, {static_dir}, {node};
    # a value that names a secret goes only to a file that root alone reads.
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    # Secrets of the application's own (an SMTP password, a demo account's):
    # their names; the values live in the secrets file's [app] table.
    secrets: tuple[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}\Z")], ...] = ()
    # Commands of the application's (in its venv's bin/) that apply runs on the
    # primary, in the application's environment, whenever a new version of the
    # application is installed: schema migrations, say. Each must be idempotent.
    # Run as argv (never through a shell) as the application's user.
    setup: tuple[SetupCommand, ...] = ()
    limits: WebLimits = WebLimits()


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


class Lab(Frozen):
    """Read only by `hapair lab`: how it makes this cluster's machines."""

    # None: a node is a container over this host's own root (its Python, its
    # MariaDB). A Debian release: each node boots that release instead, from
    # a root filesystem built with debootstrap (cached): a node unlike the
    # control host.
    release: Literal["bookworm", "trixie"] | None = None
    # The host's loopback ports the lab forwards, from this base: + 443 (+ 80
    # when web.tls = "off") to the VIP's web, + 10 + the node's place to each
    # agent's status page (8000: 8443, 8011, 8012). Two labs up at once (the
    # demo and the test suite's) need bases of their own.
    ports: int = Field(default=8000, ge=1024, le=65000)


class ClusterSpec(Frozen):
    name: HostName
    nodes: tuple[Node, ...] = Field(min_length=2, max_length=2)
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

    def peer(self, node: Node) -> Node:
        return next(n for n in self.nodes if n.name != node.name)
