"""The machines under the cluster: their networks (bonds), their disks (RAID),
their fence devices, and how `hapair lab` makes them."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import Field

from hapair.spec.types import AbsPath, Frozen, IfName

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


class Storage(Frozen):
    """A software RAID array (mdadm) holding the node's data."""

    array: AbsPath = "/dev/md0"
    level: Literal[0, 1, 5, 6, 10]
    devices: tuple[AbsPath, ...] = Field(min_length=2)
    filesystem: Literal["ext4", "xfs"] = "ext4"
    mount_point: AbsPath = "/srv/data"


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
