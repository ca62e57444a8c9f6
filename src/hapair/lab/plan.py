"""What a lab is made of, as a pure function of the spec: namespaces, bridges,
machines and their links, the client and the control point.

Everything lives in network namespaces of the lab's own; the host's root
namespace holds no lab address and no route to one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from hapair.spec.models import ClusterSpec

MGMT_NET = IPv4Network("10.99.0.0/24")
CONTROL_ADDR = IPv4Address("10.99.0.2")
STATE_ROOT = "/var/lib/hapair/lab"
# The host's ports the lab forwards, above the spec's lab.ports (8000 by default).
FORWARD_PORT = 80  # to the VIP's port 80 (web.tls = "off"): 8080
FORWARD_TLS_PORT = 443  # to the VIP's port 443: 8443
FORWARD_PAGE_PORT = 10  # + the node's place (8011, 8012): its agent's status page
ALERT_PORT = 9099  # the lab's webhook receiver, on the control point's address


@dataclass(frozen=True)
class Link:
    network: str  # "mgmt", "interconnect", "public"
    bridge: str  # inside the lab namespace
    outside: str  # the veth end in the lab namespace
    inside: str  # the name inside the machine or namespace
    address: IPv4Interface | None  # set by the lab (mgmt, client), else by apply


CONTAINER, VM = "container", "vm"


@dataclass(frozen=True)
class Machine:
    name: str
    mgmt: IPv4Address
    links: tuple[Link, ...]  # the extra links; mgmt is nspawn's host0 (a VM's last NIC)
    kind: str = CONTAINER  # a container shares the host's kernel; a VM boots Debian's
    disks: tuple[str, ...] = ()  # a VM's data disks, as the machine names them
    # The Debian release it boots (lab.release); None: a container over the
    # host's own root, a VM the lab's default release.
    release: str | None = None


@dataclass(frozen=True)
class Namespace:
    """A plain namespace on one bridge: the client or the control point."""

    name: str
    link: Link


@dataclass(frozen=True)
class LabPlan:
    cluster: str
    core: str  # the namespace that holds the bridges and the machines' links
    bridges: dict[str, str]  # network -> bridge name
    machines: tuple[Machine, ...]
    client: Namespace
    control: Namespace
    state_dir: str

    def machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.machines)
        raise KeyError(f"no machine {name!r} in lab {self.cluster} (machines: {known})")

    def link(self, machine: str, network: str) -> Link:
        return self.links(machine, network)[0]

    def links(self, machine: str, network: str) -> list[Link]:
        """Every link of a machine on that network: one, or a bond's members."""
        found = [x for x in self.machine(machine).links if x.network == network]
        if not found:
            raise KeyError(f"{machine} has no {network} link")
        return found


@dataclass(frozen=True)
class MachinePaths:
    base: Path

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def console(self) -> Path:
        return self.base / "console.log"

    @property
    def host_keys(self) -> Path:
        """The machine's public host keys, kept beside it when they were made:
        the lab's known_hosts comes from them, not from a first contact."""
        return self.base / "host_keys.pub"


def machine_paths(plan: LabPlan, machine: Machine) -> MachinePaths:
    return MachinePaths(Path(plan.state_dir) / "machines" / machine.name)



class LabPlanError(ValueError):
    pass


def client_address(spec: ClusterSpec, skip: int = 0) -> IPv4Interface:
    """The client plays the users: the highest free host of the public
    network (skip=1: the next one down, the drills' attacker, another host
    on the client network)."""
    net = spec.networks.public.cidr
    taken = {spec.vip.address, *(n.public for n in spec.nodes),
             *((spec.witness.address,) if spec.witness else ())}
    free = [h for h in reversed(list(net.hosts())) if h not in taken]
    if len(free) <= skip:
        raise LabPlanError(f"no free address for the client in {net}")
    return IPv4Interface(f"{free[skip]}/{net.prefixlen}")


def _mgmt(field: str, ssh: str) -> IPv4Address:
    """A lab machine's management address: its SSH address, in MGMT_NET."""
    try:
        mgmt = IPv4Address(ssh)
    except ValueError:
        raise LabPlanError(f"{field} must be an address in {MGMT_NET} for a lab") from None
    if mgmt not in MGMT_NET or mgmt == CONTROL_ADDR:
        raise LabPlanError(
            f"{field} {mgmt} must be in the lab's management network {MGMT_NET} "
            f"(not {CONTROL_ADDR}, the control point)"
        )
    return mgmt


def needs_vm(spec: ClusterSpec) -> bool:
    """Bonds and RAID need drivers this host's kernel may lack: such a spec's
    nodes are virtual machines with Debian's kernel (lab/vm.py)."""
    bonded = any(getattr(spec.networks, n).bond for n in ("interconnect", "public"))
    return bonded or spec.storage is not None


def _eth_index(name: str) -> int:
    """A VM's NICs are named by the kernel in the order they are plugged
    (eth0, eth1, ...): the spec must name them so."""
    if not re.fullmatch(r"eth\d+", name):
        raise LabPlanError(f"interface {name!r}: a lab VM's NICs are eth0, eth1, ... "
                           "(the kernel names them in order)")
    return int(name[3:])


def _disks(spec: ClusterSpec) -> tuple[str, ...]:
    """A VM's data disks are virtio disks after its root disk: /dev/vdb, /dev/vdc, ..."""
    if spec.storage is None:
        return ()
    devices = spec.storage.devices
    expected = tuple(f"/dev/vd{chr(ord('b') + k)}" for k in range(len(devices)))
    if devices != expected:
        raise LabPlanError(f"storage.devices: a lab VM's data disks are {', '.join(expected)} "
                           f"(virtio disks after the root disk), not {', '.join(devices)}")
    return devices


def plan_lab(spec: ClusterSpec) -> LabPlan:
    bridges = {"mgmt": "br-mgmt", "interconnect": "br-ic", "public": "br-pub"}
    short = {"interconnect": "ic", "public": "pub"}
    machines = []
    vm = needs_vm(spec)
    for i, node in enumerate(spec.nodes):
        mgmt = _mgmt(f"nodes[{i}].ssh", node.ssh)
        links = []
        for net in ("interconnect", "public"):
            network = getattr(spec.networks, net)
            members = network.bond.interfaces if network.bond else (network.device,)
            for k, member in enumerate(members):
                suffix = f"{short[net]}{k}" if network.bond else short[net]
                links.append(Link(net, bridges[net], f"vm{i}-{suffix}", member, None))
        if vm:
            links.sort(key=lambda x: _eth_index(x.inside))
            if [_eth_index(x.inside) for x in links] != list(range(len(links))):
                names = ", ".join(x.inside for x in links)
                raise LabPlanError(f"interfaces {names}: a lab VM's NICs are eth0 to "
                                   f"eth{len(links) - 1}, each once")
            machines.append(Machine(node.name, mgmt, tuple(links), VM, _disks(spec),
                                    spec.lab.release))
        else:
            machines.append(Machine(node.name, mgmt, tuple(links),
                                    release=spec.lab.release))
    if spec.witness is not None:
        # The witness is a given host: the lab sets its public address itself.
        w, public = spec.witness, spec.networks.public
        address = IPv4Interface(f"{w.address}/{public.cidr.prefixlen}")
        machines.append(Machine(w.name, _mgmt("witness.ssh", w.ssh_host), (
            Link("public", bridges["public"], "vw-pub", public.device, address),)))
    core = f"hapair-{spec.name}"
    client = Namespace(
        f"{core}-client",
        Link("public", bridges["public"], "vclient", "eth0", client_address(spec)),
    )
    control = Namespace(
        f"{core}-ctl",
        Link("mgmt", bridges["mgmt"], "vctl", "eth0",
             IPv4Interface(f"{CONTROL_ADDR}/{MGMT_NET.prefixlen}")),
    )
    return LabPlan(
        cluster=spec.name,
        core=core,
        bridges=bridges,
        machines=tuple(machines),
        client=client,
        control=control,
        state_dir=f"{STATE_ROOT}/{spec.name}",
    )
