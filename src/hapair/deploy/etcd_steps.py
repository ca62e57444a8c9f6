"""The witness's phase of an apply: etcd on the two nodes and the witness
(Debian's own etcd unit out of the way, certificates, hapair's unit
running), then authentication on, from the first node. The witness's
hostname, packages and files come with the nodes', in the base phases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyinfra.operations import files

from hapair.deploy import etcd_ops, ops
from hapair.render import etcd as render

if TYPE_CHECKING:
    from hapair.deploy.steps import Host_, Plan

PACKAGES = ["etcd-server", "curl", "nftables"]
ARBITER_PACKAGES = ["glusterfs-server"]


def etcd(plan: Plan) -> None:
    d = plan.d
    spec, ca = d.spec, d.secrets.pki
    w = spec.witness
    if w is None:
        return
    if ca is None:
        raise ValueError("the spec names a witness but the secrets file has no [pki] table: run "
                         "`hapair secrets ca SECRETS SPEC` (nothing was changed)")
    nodes = list(spec.nodes)
    members: list[Host_] = [*nodes, w]
    # The witness's hostname, packages and files: the base phases, beside the nodes'.
    plan.op(members, "etcd: Debian's etcd.service stopped (hapair-etcd runs instead)",
            ops.unit_stopped, unit="etcd")
    plan.op(members, "etcd: data directory", files.directory, path=render.DATA_DIR,
            user="etcd", group="etcd", mode="700")
    addresses = dict(render.members(spec))

    def certs(m: Any) -> dict[str, Any]:
        return {"cn": m.name, "addresses": (addresses[m.name],), "agent": m is not w}

    plan.op(members, "etcd: certificates from the cluster CA", etcd_ops.certificates,
            per_node=certs, ca_cert=ca.ca_cert, ca_key=ca.ca_key.get_secret_value())
    # A first start reads the files as they are now: no restart owed then.
    plan.op(members, "hapair-etcd: running", ops.unit_started, unit="hapair-etcd",
            clears=("etcd",))
    plan.on_change(members, "etcd", "hapair-etcd: restart", "systemctl restart hapair-etcd")
    client, _ = render.ports(spec)
    plan.op(nodes[:1], "etcd: authentication on", etcd_ops.authentication, cluster=spec.name,
            url=f"https://127.0.0.1:{client}",
            root_password=ca.etcd_root_password.get_secret_value(),
            agent_password=ca.etcd_agent_password.get_secret_value())

