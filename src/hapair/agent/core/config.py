"""The agent's settings, derived once from the cluster spec (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.agent.core.view import PATHS, Path
from hapair.model.addresses import agent_addresses
from hapair.spec.models import ClusterSpec, Node


@dataclass(frozen=True)
class PeerFence:
    """The peer's fence device (its password comes from the agent's secrets)."""

    agent: str
    options: dict[str, str]
    delay_s: float  # a node that is not the primary waits this before fencing
    timeout_s: float


@dataclass(frozen=True)
class AgentConfig:
    node: str
    peer: str
    peer_addresses: dict[str, str]  # path -> the peer's address on it
    my_addresses: dict[str, str]
    db_port: int
    admin_user: str
    app_user: str
    replication_user: str
    app_db: str  # the application's schema: its tables carry the lease's write gate
    agent_port: int
    app_port: int
    interval_s: float
    # The primary stops writes when its poll of the peer has gone unanswered
    # this long; the replica promotes only after lease_s + margin_s without a
    # sign of the primary, so the two can never overlap.
    lease_s: float
    margin_s: float
    failover_window_s: float
    semi_sync: bool
    vip: str
    vip_device: str
    vip_prefix: int
    fence: PeerFence | None = None  # None: the pair has no fence devices
    listen: tuple[str, ...] = ()  # the API's TLS addresses (loopback is served plain)
    peer_server_id: int = 0  # its MariaDB server_id (the server part of its GTIDs)
    cluster: str = ""  # the spec's name (the status page's title)
    static_dir: str = ""  # the static files' volume, mounted (GET /files)
    bonds: tuple[str, ...] = ()  # the spec's bonds, watched in /proc/net/bonding
    array: str = ""  # the spec's RAID array ("md0"), watched in /proc/mdstat

    def peer_path_of(self, host: str) -> Path | None:
        """Which path a replication source address belongs to."""
        for path in PATHS:
            if self.peer_addresses.get(path) == host:
                return path
        return None

    def is_my_address(self, host: str) -> bool:
        return host in self.my_addresses.values()


def from_spec(spec: ClusterSpec, node: Node) -> AgentConfig:
    peer = spec.peer(node)
    net = getattr(spec.networks, spec.vip.network)
    interval = spec.timing.agent_interval_s
    return AgentConfig(
        node=node.name,
        peer=peer.name,
        peer_addresses={p: str(peer.address(p)) for p in PATHS},
        my_addresses={p: str(node.address(p)) for p in PATHS},
        db_port=spec.database.port,
        admin_user=spec.database.users.admin,
        app_user=spec.database.users.app,
        replication_user=spec.database.users.replication,
        app_db=spec.database.name,
        agent_port=spec.agent.port,
        app_port=spec.web.port,
        interval_s=interval,
        lease_s=spec.timing.lease_s,
        margin_s=spec.timing.margin_s,
        failover_window_s=float(spec.timing.failover_window_s),
        semi_sync=spec.database.durability == "semi-sync",
        vip=str(spec.vip.address),
        vip_device=net.device,
        vip_prefix=net.cidr.prefixlen,
        fence=PeerFence(peer.fence.agent, dict(peer.fence.options), spec.fencing.delay_s,
                        spec.fencing.timeout_s) if spec.fenced and peer.fence else None,
        listen=agent_addresses(node),
        peer_server_id=peer.server_id,
        cluster=spec.name,
        static_dir=spec.volume.mount_point,
        bonds=tuple(n.bond.name for n in (spec.networks.interconnect, spec.networks.public)
                    if n.bond is not None),
        array=spec.storage.array.rsplit("/", 1)[-1] if spec.storage else "",
    )
