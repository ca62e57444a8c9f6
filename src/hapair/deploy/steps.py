"""The operations of an apply, in order, phase by phase.

Each add_op targets the hosts it names; pyinfra runs one operation at a time
across those hosts. Restarts and reloads run only when what they depend on
changed: a changed file leaves a note on its node (ops.note), and the
restart's operation runs where the note is (Plan.on_change, ops.when_noted),
in this apply or the next one if this one failed before it got there."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api.host import Host
from pyinfra.api.operation import add_op, operation
from pyinfra.api.state import State
from pyinfra.context import host
from pyinfra.operations import apt, files, server

from hapair.deploy import cert_ops, db_steps, etcd_steps, gluster_steps, ops, python_steps, rolling
from hapair.deploy.roles import Roles
from hapair.deploy.wheels import Wheelhouse
from hapair.model.addresses import agent_addresses
from hapair.paths import (
    AGENT_CERT,
    AGENT_KEY,
    AGENT_SECRETS_ENV,
    APP_MIGRATION_ENV,
    APP_SECRETS_ENV,
    APP_USER,
    DB_CERT,
    DB_KEY,
    ETCD_PASSWORD_ENV,
    FENCE_PASSWORD_ENV,
    SYSCTL_FILE,
    WEB_CERT,
    WEB_KEY,
    WEBHOOK_SECRET_ENV,
)
from hapair.render import apache as apache_render
from hapair.render import etcd as etcd_render
from hapair.render import firewall as firewall_render
from hapair.render import gluster as gluster_render
from hapair.render.appenv import SECRET_FIELDS, env_file, fields_of, plain_values, split_env
from hapair.render.files import RenderedFile
from hapair.render.systemd import AGENT_UNIT, APP_UNIT, escape_path
from hapair.secrets import Secrets
from hapair.spec.models import ClusterSpec, Node, Witness

Host_ = Node | Witness  # a host an apply converges: a node, or the witness

PACKAGES = [
    "keepalived", "mariadb-server", "mariadb-client", "mariadb-backup", "apache2",
    "glusterfs-server", "glusterfs-client", "python3-venv", "curl", "netplan.io",
    "iputils-arping",  # the agent re-announces the VIP after fencing its peer
    "nftables",
]
FENCE_PACKAGES = ["fence-agents"]
# What building a shipped source archive needs on a node (C extensions).
BUILD_PACKAGES = ["gcc", "libc6-dev", "python3-dev"]


@dataclass(frozen=True)
class Deployment:
    spec: ClusterSpec
    secrets: Secrets
    hosts: dict[str, Host]  # node name -> pyinfra host
    rendered: dict[str, tuple[RenderedFile, ...]]
    roles: Roles
    # node name -> (application, hapair) wheels made for its Python
    wheels: dict[str, tuple[Wheelhouse | None, Wheelhouse]]
    install_packages: bool = True
    # A live cluster: the restarts its changes call for are left noted and
    # rolled afterwards, one node at a time (rolling.py), not done here.
    rolling: bool = False
    # node name -> {path: its text now} for the files whose change may call
    # for less than a restart (the agent's spec, MariaDB's config)
    current: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedOp:
    node: str
    name: str
    meta: Any  # pyinfra's OperationMeta


class Plan:
    """Adds operations to a pyinfra state.

    Every operation is added for every node, so that the n-th operation is the
    same step everywhere (pyinfra runs one step at a time across the hosts);
    a step meant for some nodes only does nothing on the others."""

    def __init__(self, state: State, d: Deployment) -> None:
        self.state = state
        self.d = d
        self.ops: list[PlannedOp] = []
        self.venvs: python_steps.Venvs  # set by python_steps.build
        self.files: dict[str, tuple[ops.FileSpec, ...]] = {}  # per host, as uploaded

    def op(self, nodes: Sequence[Host_], name: str, fn: Any, *,
           per_node: Callable[[Any], dict[str, Any]] | None = None, **kwargs: Any) -> None:
        calls = {
            n.name: (fn, {**kwargs, **(per_node(n) if per_node else {})}) for n in nodes
        }
        results = add_op(self.state, for_nodes, name=name, calls=calls,
                         host=list(self.d.hosts.values()))
        for n in nodes:
            self.ops.append(PlannedOp(n.name, name, results[self.d.hosts[n.name]]))

    def on_change(self, nodes: Sequence[Host_], key: str, name: str, command: str) -> None:
        """Run command on each node where a note says `key` changed (in this
        apply, or in an earlier one that failed before it got here)."""
        self.op(nodes, name, ops.when_noted, key=key, command=command)


@operation()
def for_nodes(calls: dict[str, tuple[Any, dict[str, Any]]]) -> Generator[Any, None, None]:
    """Run an operation's body with this node's arguments, or nothing here."""
    call = calls.get(host.data.get("node"))
    if call is None:
        return
    fn, kwargs = call
    yield from fn._inner(**kwargs)


def base(plan: Plan) -> None:
    spec, nodes = plan.d.spec, list(plan.d.spec.nodes)
    hosts = all_hosts(spec)  # the witness's steps run beside the nodes', not after them
    plan.op(hosts, "hostname", server.hostname, per_node=lambda h: {"hostname": h.name})
    hosts_file(plan)
    if plan.d.install_packages:
        plan.op(hosts, "packages", apt.packages, update=False,
                per_node=lambda h: {"packages": packages_of(plan.d, h)})
    plan.op(nodes, f"user {APP_USER}", ops.system_user, user=APP_USER, home="/nonexistent",
            shell="/usr/sbin/nologin")
    plan.op(nodes, "/etc/hapair", files.directory, path="/etc/hapair", mode="755")


def all_hosts(spec: ClusterSpec) -> list[Host_]:
    """The nodes, and the witness when the spec names one."""
    return [*spec.nodes, *([spec.witness] if spec.witness else [])]


def packages_of(d: Deployment, h: Host_) -> list[str]:
    spec = d.spec
    if isinstance(h, Witness):
        return etcd_steps.PACKAGES + (
            etcd_steps.ARBITER_PACKAGES if spec.volume.arbiter == h.name else [])
    return (PACKAGES + (FENCE_PACKAGES if spec.fenced else [])
            + (etcd_steps.PACKAGES if spec.witness else [])
            + (BUILD_PACKAGES if builds_sources(d, h) else []))


def builds_sources(d: Deployment, node: Node) -> bool:
    """Whether a dependency of this node's venvs is built there (no wheel)."""
    return any(h is not None and h.sources for h in d.wheels.get(node.name, ()))


def hosts_file(plan: Plan) -> None:
    """The cluster's names in /etc/hosts, on the nodes and the witness: the
    Gluster pool and bricks use them (each host sees the others where it
    reaches them)."""
    spec = plan.d.spec
    hosts = all_hosts(spec)

    def lines(h: Host_) -> dict[str, Any]:
        names = gluster_render.names(spec, on_witness=h is spec.witness)
        return {"content": "\n".join(f"{a} {n}" for a, n in names)}

    plan.op(hosts, "/etc/hosts: the cluster's names", files.block, path="/etc/hosts",
            marker="# {mark} hapair " + spec.name, per_node=lines)


# Which restart or reload each rendered component's files call for. The
# gluster plan calls for none: its step compares the volume itself.
COMPONENT_KEYS: dict[str, tuple[str, ...]] = {
    "keepalived": ("keepalived",), "mariadb": ("mariadb",), "apache": ("apache",),
    "network": ("network",), "raid": ("raid",), "gluster": (), "hapair": ("agent",),
    "etcd": ("units", "etcd"), "firewall": ("firewall",), "sysctl": ("sysctl",),
}


def _key(f: RenderedFile) -> tuple[str, ...]:
    """What a changed file calls for: its service's restart, a daemon-reload."""
    if f.path.endswith(f"/{APP_UNIT}"):
        return ("units", "app")
    if f.path.endswith(f"/{AGENT_UNIT}"):
        return ("units", "agent")
    if f.path.endswith(("/app.env", "/app-secrets.env", "/gunicorn.conf.py")):
        return ("app",)
    if f.path.endswith("/agent-secrets.env"):
        return ("agent",)
    if f.path == APP_MIGRATION_ENV:
        return ("setup",)
    if f.path == firewall_render.UNIT_PATH:
        return ("units", "firewall")
    return COMPONENT_KEYS.get(f.component, ("units",))


def _keys(d: Deployment, node: str, f: RenderedFile) -> tuple[str, ...]:
    """What a changed file calls for, knowing what it held: the agent's spec
    changed only where the agent never reads it, or MariaDB's config only in
    variables a running server takes (set by `db_steps`), call for nothing."""
    old = d.current.get(node, {}).get(f.path, "")
    return () if rolling.calls_for_nothing(f.path, old, f.content) else _key(f)


def rendered_files(plan: Plan) -> None:
    d = plan.d

    def files_of(h: Host_) -> dict[str, Any]:
        if isinstance(h, Witness):
            rendered = [*etcd_render.render_witness(d.spec),
                        *firewall_render.render_witness(d.spec),
                        *gluster_render.render_witness(d.spec)]
        else:
            rendered = [*d.rendered[h.name],
                        RenderedFile(APP_SECRETS_ENV, app_secrets(d, h), 0o600, "secrets"),
                        RenderedFile(APP_MIGRATION_ENV, migration_env(d, h), 0o600, "migration"),
                        RenderedFile(AGENT_SECRETS_ENV, agent_secrets(d, h), 0o600, "secrets")]
        specs = tuple(ops.FileSpec(f.path, f.content.encode(), f.mode, _keys(d, h.name, f))
                      for f in rendered)
        plan.files[h.name] = specs
        return {"files": specs}

    hosts, nodes = all_hosts(d.spec), list(d.spec.nodes)
    plan.op(hosts, "files: rendered configuration and secrets", ops.put_files,
            per_node=files_of)
    # hapair's tmpfiles.d entry is a node's only (the witness runs etcd alone).
    plan.op(hosts, "systemd: daemon-reload", ops.when_noted, key="units", per_node=lambda h: {
        "command": "systemctl daemon-reload" + (
            "" if isinstance(h, Witness) else " && systemd-tmpfiles --create hapair.conf")})
    plan.on_change(nodes, "sysctl", "kernel: ARP settings for the VIP",
                   f"sysctl -q -p {SYSCTL_FILE}")


def _placeholders(d: Deployment, node: Node) -> dict[str, str]:
    """Every placeholder of web.env with its value, the secret ones included."""
    values = plain_values(d.spec, node)
    for placeholder, name in SECRET_FIELDS.items():
        values[placeholder] = getattr(d.secrets, name).get_secret_value()
    return values


def app_secrets(d: Deployment, node: Node) -> str:
    values = _placeholders(d, node)
    _, templates = split_env(d.spec, node)
    variables = {k: t.format(**values) for k, t in templates.items()}
    variables.update({k: v.get_secret_value() for k, v in d.secrets.app.items()})
    return env_file(variables)


def migration_env(d: Deployment, node: Node) -> str:
    """The variables that name the database account, as web.setup's commands
    see them: with the migration account instead of the application's."""
    values = _placeholders(d, node) | {
        "db_user": d.spec.database.users.migration,
        "db_password": d.secrets.db_migration_password.get_secret_value()}
    return env_file({k: t.format(**values) for k, t in d.spec.web.env.items()
                     if fields_of(t) & {"db_user", "db_password"}})


def agent_secrets(d: Deployment, node: Node) -> str:
    """The agent's secrets; of the fence passwords, only the peer's device's
    (a node never needs to power itself off)."""
    s = d.secrets
    values = {
        "HAPAIR_DB_ADMIN_PASSWORD": s.db_admin_password.get_secret_value(),
        "HAPAIR_DB_REPLICATION_PASSWORD": s.db_replication_password.get_secret_value(),
        "HAPAIR_API_TOKEN": s.api_token.get_secret_value(),
    }
    if s.pki is not None and d.spec.witness is not None:
        values[ETCD_PASSWORD_ENV] = s.pki.etcd_agent_password.get_secret_value()
    if s.webhook_secret is not None:
        values[WEBHOOK_SECRET_ENV] = s.webhook_secret.get_secret_value()
    peer = d.spec.peer(node)
    if peer.fence is not None and peer.name in s.fence_passwords:
        values[FENCE_PASSWORD_ENV] = s.fence_passwords[peer.name].get_secret_value()
    return env_file(values)


def agent_tls(plan: Plan) -> None:
    """The agents' API and MariaDB are TLS: each node's certificates from the
    cluster CA (before the database's restart on its new config)."""
    ca = cert_ops.cluster_ca(plan.d.secrets)
    spec = plan.d.spec
    web = spec.web.tls == "cluster-ca"

    def items(n: Node) -> dict[str, Any]:
        mine = [(cert_ops.Wanted(AGENT_CERT, AGENT_KEY, n.name, agent_addresses(n)), ("agent",)),
                (cert_ops.Wanted(DB_CERT, DB_KEY, n.name, agent_addresses(n), owner="mysql",
                                 use="server"), ("mariadb",))]
        if web:
            mine.append((cert_ops.Wanted(WEB_CERT, WEB_KEY, spec.web.server_name or spec.name,
                                         (str(spec.vip.address), str(n.public)), use="server"),
                         ("apache",)))
        return {"items": tuple(mine)}

    label = "the agent's, MariaDB's" + (" and Apache's" if web else "")
    plan.op(list(spec.nodes), f"TLS: {label} certificates from the cluster CA",
            cert_ops.certificates, ca_cert=ca.ca_cert, ca_key=ca.ca_key.get_secret_value(),
            per_node=items)


def network(plan: Plan) -> None:
    nodes = list(plan.d.spec.nodes)
    plan.op(nodes, "network: apply the netplan file", ops.network_apply, spec=plan.d.spec)
    storage = plan.d.spec.storage
    if storage is not None:
        plan.op(nodes, "raid: create the array", ops.raid_create)
        plan.op(nodes, f"raid: mount {storage.mount_point}", ops.raid_mount,
                unit=f"{escape_path(storage.mount_point)}.mount")


def web(plan: Plan) -> None:
    nodes = list(plan.d.spec.nodes)
    spec = plan.d.spec  # its certificate: agent_tls
    plan.op(nodes, "apache: modules and site", ops.apache_links,
            modules=apache_render.modules(spec),
            site="hapair")
    plan.op(nodes, "apache: running", ops.unit_started, unit="apache2", clears=("apache",))
    plan.on_change(nodes, "apache", "apache: reload", "systemctl reload apache2")


def failover(plan: Plan) -> None:
    r = plan.d.roles
    # The primary first: with nopreempt, the first keepalived up takes the VIP.
    for node in (r.primary, r.replica):
        plan.op([node], "keepalived: running", ops.unit_started, unit="keepalived",
                clears=("keepalived",))
    # A reload, not a restart: the holder of the VIP keeps it.
    plan.on_change([r.primary, r.replica], "keepalived", "keepalived: reload",
                   "systemctl reload keepalived")


def firewall(plan: Plan) -> None:
    """First, before any service of the cluster starts: each host's nftables
    rules (they name interfaces by name and keep SSH open, so they load before
    a bond exists), reloaded in one transaction when they changed (never a
    moment without). Loaded last, a first apply left MariaDB, glusterd and
    etcd open to every client until its end."""
    hosts = all_hosts(plan.d.spec)  # the witness's files: rendered_files
    plan.op(hosts, "firewall: rules loaded", ops.unit_started, unit=firewall_render.UNIT,
            clears=("firewall",))
    plan.on_change(hosts, "firewall", "firewall: reload the rules",
                   f"systemctl reload-or-restart {firewall_render.UNIT}")


PHASES = (base, rendered_files, firewall, gluster_steps.gluster_tls,
          gluster_steps.glusterd_meanwhile, agent_tls, network, db_steps.mariadb_meanwhile,
          python_steps.build, etcd_steps.etcd, db_steps.database, gluster_steps.volume,
          python_steps.envs, web, failover)


#: `apply --only host`: the machine itself (packages, files, bonds, RAID),
#: none of the cluster's services started or changed.
HOST_PHASES = (base, rendered_files, network)


def add_all(state: State, d: Deployment, *, host_only: bool = False) -> Plan:
    plan = Plan(state, d)
    for phase in HOST_PHASES if host_only else PHASES:
        phase(plan)
    return plan
