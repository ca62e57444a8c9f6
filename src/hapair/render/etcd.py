"""etcd: the two nodes and the witness as one three-member cluster, on the
public network, over TLS (peers and clients both show a certificate from the
cluster CA). hapair runs it as its own unit, ``hapair-etcd.service``, beside
Debian's ``etcd.service`` (left disabled): its own data directory, its own
settings, nothing shared with another etcd on the host.

Why the public network: the majority then follows what the clients can reach.
A node cut off from the public network can serve no booking, and it also loses
etcd's majority; the node the clients still reach keeps it, with the witness."""

from __future__ import annotations

import base64
import json

from hapair.paths import ETCD_AGENT_USER, ETCD_CA, ETCD_CERT_DIR
from hapair.render.files import RenderedFile, header, host_header
from hapair.spec.models import ClusterSpec, Node

ENV_PATH = "/etc/hapair/etcd.env"
UNIT_PATH = "/etc/systemd/system/hapair-etcd.service"
CERT_DIR = ETCD_CERT_DIR
CA_FILE = ETCD_CA
CERT_FILE = f"{CERT_DIR}/host.crt"
KEY_FILE = f"{CERT_DIR}/host.key"
DATA_DIR = "/var/lib/hapair/etcd"
# A leader sends a heartbeat every 100 ms (etcd's default); a follower starts
# an election after 500 ms without one (etcd's default is 1 s; five missed
# heartbeats is etcd's own rule of thumb for a LAN). A dead or cut-off etcd
# leader is replaced in 0.5-1 s, inside a failover's budget. Pre-vote: a
# member that comes back from a partition asks before it starts an election,
# so it does not depose a working leader (a pause of about a second, seen in
# the drills without it).
HEARTBEAT_MS = 100
ELECTION_MS = 500
# The leader key is rewritten every agent cycle (agent/node/dcs.py): five new
# revisions a second. etcd keeps every revision until it is compacted, and by
# default it never is: in the hour's soak each member's memory grew by a
# quarter to a half, and the database would reach its 2 GiB quota within
# weeks, when etcd refuses every write (the NOSPACE alarm) and the leader key
# could no longer be renewed: writes would pause for good. History older than
# five minutes is compacted every five minutes (Kubernetes' own interval);
# only the keys' current values matter to the agents' compare-and-swap.
COMPACTION_RETENTION = "5m"


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
        "ETCD_PRE_VOTE": "true",
        "ETCD_AUTO_COMPACTION_MODE": "periodic",
        "ETCD_AUTO_COMPACTION_RETENTION": COMPACTION_RETENTION,
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


AGENT_USER = ETCD_AGENT_USER
ROLE = "hapair"


def prefix(cluster: str) -> str:
    return f"/hapair/{cluster}/"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _range_end(key: str) -> str:
    """etcd's end of a prefix: the key with its last byte incremented."""
    return key[:-1] + chr(ord(key[-1]) + 1)


def auth_calls(cluster: str, root_password: str, agent_password: str) -> list[tuple[str, str]]:
    """etcd's v3 API calls (path, JSON body) that turn authentication on:
    root, a role for the cluster's prefix, the agents' user, then enable."""
    key = prefix(cluster)
    calls = [
        ("auth/user/add", {"name": "root", "password": root_password}),
        ("auth/user/grant", {"user": "root", "role": "root"}),
        ("auth/role/add", {"name": ROLE}),
        ("auth/role/grant", {"name": ROLE, "perm": {"permType": "READWRITE", "key": _b64(key),
                                                    "range_end": _b64(_range_end(key))}}),
        ("auth/user/add", {"name": AGENT_USER, "password": agent_password}),
        ("auth/user/grant", {"user": AGENT_USER, "role": ROLE}),
        ("auth/enable", {}),
    ]
    return [(path, json.dumps(body)) for path, body in calls]


def curl(url: str, ca: str = CA_FILE, cert: str = CERT_FILE, key: str = KEY_FILE) -> str:
    """curl with this host's certificate, POSTing standard input to etcd's API."""
    return (f"curl -sS --max-time 10 --fail-with-body --cacert {ca} --cert {cert} --key {key} "
            f"-X POST --data-binary @- {url}/v3/")


def curl_script(curl_prefix: str, calls: list[tuple[str, str]]) -> str:
    """A shell script that makes the calls, bodies on standard input (never on
    a command line); it stops at the first refusal."""
    lines = ["set -eu", f'api() {{ {curl_prefix}"$1"; echo; }}']
    for path, body in calls:
        lines += [f"api {path} <<'HAPAIR_EOF'", body, "HAPAIR_EOF"]
    return "\n".join(lines) + "\n"

