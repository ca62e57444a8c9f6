"""Gluster's phases of an apply: its TLS on every host of the pool (before
glusterd starts), glusterd's start begun early, then the pool, the volume
and each node's mount."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyinfra.operations import files

from hapair.deploy import cert_ops, gluster_ops, ops
from hapair.model.addresses import agent_addresses
from hapair.paths import APP_USER, GLUSTER_CA, GLUSTER_CERT, GLUSTER_KEY, GLUSTER_TLS_LINKS
from hapair.render import gluster as gluster_render
from hapair.render.systemd import escape_path
from hapair.spec.models import ClusterSpec, Node

if TYPE_CHECKING:
    from hapair.deploy.steps import Host_, Plan


def gluster_pool(spec: ClusterSpec) -> list[Host_]:
    arbiter: list[Host_] = [spec.host(spec.volume.arbiter)] if spec.volume.arbiter else []
    return [*spec.nodes, *(h for h in arbiter if h not in spec.nodes)]


def gluster_tls(plan: Plan) -> None:
    """Gluster's TLS on every host of its pool, before glusterd starts: its
    certificate from the cluster CA and TLS on glusterd's own port, with
    links where Debian's build looks for the files. A change owes a running
    glusterd's restart, done by `volume` beside the volume's own."""
    ca = cert_ops.cluster_ca(plan.d.secrets)
    pool = gluster_pool(plan.d.spec)

    def names(h: Host_) -> dict[str, Any]:
        return {"cn": h.name, "addresses": (agent_addresses(h) if isinstance(h, Node)
                                            else (str(h.address),))}

    plan.op(pool, "TLS: Gluster's certificate from the cluster CA", cert_ops.gluster,
            ca_cert=ca.ca_cert, ca_key=ca.ca_key.get_secret_value(), per_node=names)
    for path in (GLUSTER_CERT, GLUSTER_KEY, GLUSTER_CA):
        name = path.rsplit("/", 1)[1]
        plan.op(pool, f"TLS: {GLUSTER_TLS_LINKS}/{name} for Debian's Gluster", files.link,
                path=f"{GLUSTER_TLS_LINKS}/{name}", target=path)


def glusterd_meanwhile(plan: Plan) -> None:
    """glusterd's start (seconds) begun early; `volume` waits for it."""
    plan.op(gluster_pool(plan.d.spec), "glusterd: starting meanwhile", ops.unit_starting,
            unit="glusterd")


def volume(plan: Plan) -> None:
    spec = plan.d.spec
    nodes = list(spec.nodes)
    vol = spec.volume
    arbiter: list[Host_] = [spec.host(vol.arbiter)] if vol.arbiter else []
    pool = gluster_pool(spec)
    # The restart gluster_tls's changes owe, here, right before the volume's
    # own: the host's bricks restart with glusterd (they hold the old
    # certificate), and a mount made before TLS cannot find them again, so
    # the files are away from this restart until the mounts are made again
    # below (early in the apply, that was 21 s in the lab, the apply's other
    # steps between). Only a running glusterd: one not yet running starts
    # with TLS (glusterd_meanwhile).
    plan.on_change(pool, "glusterd", "glusterd: restart with its bricks (TLS changed)",
                   gluster_ops.restart_with_bricks())
    plan.op(pool, "glusterd: running", ops.unit_started, unit="glusterd")
    bricks = [spec.node(n) for n in vol.brick_nodes(spec.nodes)] + arbiter
    plan.op(bricks, "gluster: brick directory", files.directory, path=vol.brick_path)
    first = nodes[0]
    plan.op([first], f"gluster: pool and volume {vol.name}", gluster_ops.gluster_pool,
            plan=gluster_render.plan(spec, first))
    # systemd makes the mount point when it is missing.
    plan.op(nodes, f"gluster: mount {vol.mount_point}", gluster_ops.mount_serving,
            unit=f"{escape_path(vol.mount_point)}.mount", path=vol.mount_point)
    plan.op(nodes, "gluster: the application may write", files.directory,
            path=vol.mount_point, user=APP_USER, group=APP_USER, mode="755")
