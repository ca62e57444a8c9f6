"""etcd: the two nodes and the witness as one three-member cluster, on the
public network, over TLS (peers and clients both show a certificate from the
cluster CA). hapair runs it as its own unit, ``hapair-etcd.service``, beside
Debian's ``etcd.service`` (left disabled): its own data directory, its own
settings, nothing shared with another etcd on the host.

Why the public network: the majority then follows what the clients can reach.
A node cut off from the public network can serve no booking, and it also loses
etcd's majority; the node the clients still reach keeps it, with the witness."""

from __future__ import annotations

from hapair.render.files import RenderedFile, header, host_header
from hapair.spec.models import ClusterSpec, Node

ENV_PATH = "/etc/hapair/etcd.env"
UNIT_PATH = "/etc/systemd/system/hapair-etcd.service"
CERT_DIR = "/etc/hapair/etcd"
CA_FILE = f"{CERT_DIR}/ca.crt"
CERT_FILE = f"{CERT_DIR}/host.crt"
KEY_FILE = f"{CERT_DIR}/host.key"
DATA_DIR = "/var/lib/hapair/etcd"
# etcd's defaults, written out: a leader sends a heartbeat every 100 ms and a
# follower starts an election after 1 s without one.
HEARTBEAT_MS = 100
ELECTION_MS = 1000


def members(spec: ClusterSpec) -> tuple[tuple[str, str], ...]:
    """(name, address) of every member: the nodes on their public address,
    then the witness; () without a witness."""
    if spec.witness is None:
        return ()
    nodes = tuple((n.name, str(n.public)) for n in spec.nodes)
    return (*nodes, (spec.witness.name, str(spec.witness.address)))


def ports(spec: ClusterSpec) -> tuple[int, int]:
    """etcd's client port and its peer port (the next one)."""
    port = spec.witness.port if spec.witness else 2379
    return port, port + 1


def client_urls(spec: ClusterSpec) -> tuple[str, ...]:
    client, _ = ports(spec)
    return tuple(f"https://{address}:{client}" for _, address in members(spec))


def env(spec: ClusterSpec, name: str) -> str:
    client, peer = ports(spec)
    address = dict(members(spec))[name]
    cluster = ",".join(f"{n}=https://{a}:{peer}" for n, a in members(spec))
    values = {
        "ETCD_NAME": name,
        "ETCD_DATA_DIR": DATA_DIR,
        "ETCD_LISTEN_PEER_URLS": f"https://{address}:{peer}",
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"https://{address}:{peer}",
        "ETCD_LISTEN_CLIENT_URLS": f"https://{address}:{client},https://127.0.0.1:{client}",
        "ETCD_ADVERTISE_CLIENT_URLS": f"https://{address}:{client}",
        "ETCD_INITIAL_CLUSTER": cluster,
        "ETCD_INITIAL_CLUSTER_TOKEN": f"hapair-{spec.name}",
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_CERT_FILE": CERT_FILE,
        "ETCD_KEY_FILE": KEY_FILE,
        "ETCD_TRUSTED_CA_FILE": CA_FILE,
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_CERT_FILE": CERT_FILE,
        "ETCD_PEER_KEY_FILE": KEY_FILE,
        "ETCD_PEER_TRUSTED_CA_FILE": CA_FILE,
        "ETCD_PEER_CLIENT_CERT_AUTH": "true",
        "ETCD_HEARTBEAT_INTERVAL": str(HEARTBEAT_MS),
        "ETCD_ELECTION_TIMEOUT": str(ELECTION_MS),
        "ETCD_LOG_LEVEL": "warn",
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


UNIT = """\
[Unit]
Description=etcd for hapair: the nodes and the witness vote on who may be writable
Documentation=man:etcd
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
User=etcd
EnvironmentFile={env}
ExecStart=/usr/bin/etcd
Restart=always
RestartSec=1
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""


def _files(spec: ClusterSpec, name: str, head: str) -> list[RenderedFile]:
    if spec.witness is None:
        return []
    return [RenderedFile(ENV_PATH, head + env(spec, name), 0o644, "etcd"),
            RenderedFile(UNIT_PATH, head + UNIT.format(env=ENV_PATH), 0o644, "etcd")]


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return _files(spec, node.name, header(spec, node))


def render_witness(spec: ClusterSpec) -> list[RenderedFile]:
    """The witness's etcd files (nothing without a witness)."""
    if spec.witness is None:
        return []
    return _files(spec, spec.witness.name, host_header(spec, f"witness {spec.witness.name}"))
