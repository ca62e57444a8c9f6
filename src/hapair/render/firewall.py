"""nftables rules for every node and the witness: one table of hapair's own
(`inet hapair`), replaced whole in one transaction, loaded at boot by
`hapair-firewall.service` before the network comes up.

What each host accepts: loopback and the replies to its own connections;
ICMP; SSH from anywhere; the web ports on the VIP from anywhere, at most
`firewall.web_connections_per_source` open connections from one address
(the clients reach the VIP only: a node's own address would let them past
the VIP's holder, to a standby that cannot take a write); everything from
the cluster's own hosts (the other nodes' two addresses each, the witness: the
database, the agents' API, etcd, Gluster); VRRP from the other nodes'
interconnect addresses on the interconnect only, whatever else (a forged
advert from the public network is dropped before connection tracking could
take it for a reply); the agents' API and the web ports from
`firewall.admin_from` too. Everything else is dropped. The
cluster's hosts are let in whole, not port by port: connections made
before the rules were first loaded are unknown to connection tracking, and
a packet of theirs that arrives first from the other side (a Gluster
brick's, a primary's binlog stream) would otherwise be dropped as new,
stalling them until they time out (seen in the lab: the arbiter's write
check right after apply).

Packets of a connection the host does not know (a client's after the VIP
moved) are not dropped as invalid: the web port answers them with a
reset, so the client reconnects at once instead of waiting out a retransmit."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.render.files import RenderedFile, header, host_header
from hapair.spec.models import ClusterSpec, Node

RULES_PATH = "/etc/hapair/firewall.nft"
UNIT = "hapair-firewall.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
TABLE = "inet hapair"
WEB_PORTS = (80, 443)


@dataclass(frozen=True)
class Rules:
    """What one host lets in (pure data; `text` writes it as nftables)."""

    open_tcp: tuple[str, ...]  # from anywhere
    cluster: tuple[str, ...]  # addresses of the cluster's other hosts: all let in
    admin: tuple[str, ...]  # networks of the operators' hosts
    admin_tcp: tuple[str, ...]
    vip: str = ""  # the web ports from anywhere, to this address only
    web_tcp: tuple[str, ...] = ()
    per_source: int = 0  # open web connections one address may hold (0: no cap)
    # (device, the other nodes' addresses): VRRP only from there
    vrrp: tuple[str, tuple[str, ...]] | None = None


def _ports(values: list[int | str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values))


def for_node(spec: ClusterSpec, node: Node) -> Rules:
    others = spec.others(node)
    cluster = [str(a) for o in others for a in (o.interconnect, o.public)]
    if spec.witness is not None:
        cluster.append(str(spec.witness.address))
    return Rules(
        open_tcp=_ports([22, node.ssh_port]),
        cluster=tuple(dict.fromkeys(cluster)),
        admin=tuple(str(n) for n in spec.firewall.admin_from),
        admin_tcp=_ports([spec.agent.port, *WEB_PORTS]),
        vip=str(spec.vip.address),
        web_tcp=_ports(list(WEB_PORTS)),
        per_source=spec.firewall.web_connections_per_source,
        vrrp=(spec.networks.interconnect.device, tuple(str(o.interconnect) for o in others)),
    )


def for_witness(spec: ClusterSpec) -> Rules:
    assert spec.witness is not None
    w = spec.witness
    cluster = [str(a) for n in spec.nodes for a in (n.interconnect, n.public)]
    return Rules(open_tcp=_ports([22, w.ssh_port]), cluster=tuple(dict.fromkeys(cluster)),
                 admin=(), admin_tcp=())


def _set(name: str, kind: str, elements: tuple[str, ...], interval: bool = False) -> list[str]:
    lines = [f"\tset {name} {{", f"\t\ttype {kind}"]
    if interval:
        lines.append("\t\tflags interval")
    lines += [f"\t\telements = {{ {', '.join(elements)} }}", "\t}"]
    return lines


def _web(rules: Rules) -> list[str]:
    """The VIP's web ports from anywhere; one address's new connection over
    the cap is reset (counted by connection tracking, per source)."""
    if not rules.vip or not rules.web_tcp:
        return []
    match = f"ip daddr {rules.vip} tcp dport {{ {', '.join(rules.web_tcp)} }}"
    # A node that no longer holds the VIP on its link keeps it on lo a
    # moment (render/keepalived.py), for its answers in flight; a new
    # connection arriving meanwhile (a client whose ARP entry still names
    # this node) is reset at once, not accepted and then cut off when the
    # client's ARP entry moves to the new holder mid-handshake (seen: a
    # switchover client waited its 1 s timeout). Where the VIP is on the
    # link it arrived on, fib says local and nothing is reset.
    lines = [f"\t\t{match} ct state new fib daddr . iif type != local counter "
             "reject with tcp reset"]
    if rules.per_source:
        lines.append(f"\t\t{match} ct state new add @web_sources "
                     f"{{ ip saddr ct count over {rules.per_source} }} counter "
                     "reject with tcp reset")
    return [*lines, f"\t\t{match} accept"]


def _vrrp(rules: Rules) -> list[str]:
    """VRRP (IP protocol 112, by number: a minimal Debian has no
    /etc/protocols) from the other nodes on the interconnect; any other
    dropped."""
    if rules.vrrp is None:
        return []
    device, peers = rules.vrrp
    source = peers[0] if len(peers) == 1 else f"{{ {', '.join(peers)} }}"
    return [f'\t\tip protocol 112 iifname "{device}" ip saddr {source} accept',
            "\t\tip protocol 112 counter drop"]


def text(rules: Rules, head: str) -> str:
    """The rules as an nftables script: the table dropped and made again in
    one transaction (`add` first, so that the delete never fails)."""
    body = [f"table {TABLE}", f"delete table {TABLE}", f"table {TABLE} {{"]
    if rules.cluster:
        body += _set("cluster", "ipv4_addr", rules.cluster)
    if rules.admin and rules.admin_tcp:
        body += _set("admin", "ipv4_addr", rules.admin, interval=True)
    if rules.vip and rules.per_source:
        body += ["\tset web_sources {", "\t\ttype ipv4_addr", "\t\tsize 65535",
                 "\t\tflags dynamic", "\t}"]
    body += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        '\t\tiif "lo" accept',
        *_vrrp(rules),
        "\t\tct state established,related accept",
        # nft's own keywords: "ipv6-icmp" is /etc/protocols' name, and a
        # minimal Debian (no netbase) has no such file (seen on the lab's VMs).
        "\t\tmeta l4proto { icmp, icmpv6 } accept",
        "\t\tudp sport 67 udp dport 68 accept",
        f"\t\ttcp dport {{ {', '.join(rules.open_tcp)} }} accept",
        *_web(rules),
    ]
    if rules.cluster:
        body.append("\t\tip saddr @cluster accept")
    if rules.admin and rules.admin_tcp:
        body.append(f"\t\tip saddr @admin tcp dport {{ {', '.join(rules.admin_tcp)} }} accept")
    body += ["\t\tcounter drop", "\t}", "}"]
    return head + "\n".join(body) + "\n"


def off(head: str) -> str:
    """firewall.enabled = false: hapair's table removed, nothing else touched."""
    return head + f"table {TABLE}\ndelete table {TABLE}\n"


def unit(head: str) -> str:
    return head + f"""[Unit]
Description=hapair: this host's nftables rules ({RULES_PATH})
DefaultDependencies=no
Before=network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f {RULES_PATH}
ExecReload=/usr/sbin/nft -f {RULES_PATH}
ExecStop=-/usr/sbin/nft delete table {TABLE}

[Install]
WantedBy=sysinit.target
"""


def _files(spec: ClusterSpec, rules: Rules, head: str) -> list[RenderedFile]:
    rules_text = text(rules, head) if spec.firewall.enabled else off(head)
    return [RenderedFile(RULES_PATH, rules_text, 0o644, "firewall"),
            RenderedFile(UNIT_PATH, unit(head), 0o644, "firewall")]


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return _files(spec, for_node(spec, node), header(spec, node))


def render_witness(spec: ClusterSpec) -> list[RenderedFile]:
    if spec.witness is None:
        return []
    return _files(spec, for_witness(spec), host_header(spec, f"witness {spec.witness.name}"))
