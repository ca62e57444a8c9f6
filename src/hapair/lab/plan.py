"""What a lab is made of, as a pure function of the spec: namespaces, bridges,
machines and their links, the client and the control point.

Everything lives in network namespaces of the lab's own; the host's root
namespace holds no lab address and no route to one."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hapair.spec.models import ClusterSpec

MGMT_NET = IPv4Network("10.99.0.0/24")
CONTROL_ADDR = IPv4Address("10.99.0.2")
STATE_ROOT = "/var/lib/hapair/lab"
FORWARD_PORT = 8080  # to the VIP's port 80 (web.tls = "off")
FORWARD_TLS_PORT = 8443  # to the VIP's port 443
ALERT_PORT = 9099  # the lab's webhook receiver, on the control point's address
FORWARD_PAGE_PORT = 8010  # + the node's place (8011, 8012): its agent's status page


@dataclass(frozen=True)
class Link:
    network: str  # "mgmt", "interconnect", "public"
    bridge: str  # inside the lab namespace
    outside: str  # the veth end in the lab namespace
    inside: str  # the name inside the machine or namespace
    address: IPv4Interface | None  # set by the lab (mgmt, client), else by apply


@dataclass(frozen=True)
class Machine:
    name: str
    mgmt: IPv4Address
    links: tuple[Link, ...]  # the extra links; mgmt is nspawn's host0


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
        for link in self.machine(machine).links:
            if link.network == network:
                return link
        raise KeyError(f"{machine} has no {network} link")


class LabPlanError(ValueError):
    pass


def client_address(spec: ClusterSpec) -> IPv4Interface:
    """The client plays the users: the highest free host of the public network."""
    net = spec.networks.public.cidr
    taken = {spec.vip.address, *(n.public for n in spec.nodes),
             *((spec.witness.address,) if spec.witness else ())}
    for host in reversed(list(net.hosts())):
        if host not in taken:
            return IPv4Interface(f"{host}/{net.prefixlen}")
    raise LabPlanError(f"no free address for the client in {net}")


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


def plan_lab(spec: ClusterSpec) -> LabPlan:
    bridges = {"mgmt": "br-mgmt", "interconnect": "br-ic", "public": "br-pub"}
    short = {"interconnect": "ic", "public": "pub"}
    machines = []
    for i, node in enumerate(spec.nodes):
        mgmt = _mgmt(f"nodes[{i}].ssh", node.ssh)
        links = []
        for net in ("interconnect", "public"):
            bond = getattr(spec.networks, net).bond
            if bond is not None:
                raise LabPlanError(
                    f"networks.{net} has a bond: lab machines have no bonding driver; "
                    "use a plain `interface` in a lab spec"
                )
            device = getattr(spec.networks, net).device
            links.append(Link(net, bridges[net], f"vm{i}-{short[net]}", device, None))
        machines.append(Machine(node.name, mgmt, tuple(links)))
    if spec.witness is not None:
        # The witness is a given host: the lab sets its public address itself.
        w, public = spec.witness, spec.networks.public
        address = IPv4Interface(f"{w.address}/{public.cidr.prefixlen}")
        machines.append(Machine(w.name, _mgmt("witness.ssh", w.ssh_host), (
            Link("public", bridges["public"], "vw-pub", public.device, address),)))
    if spec.storage is not None:
        raise LabPlanError("storage (RAID) is declared: lab machines have no md driver")
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
