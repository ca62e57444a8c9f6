"""The database's phases of an apply: MariaDB's first start begun early
(`mariadb_meanwhile`), then, once the venvs ship and etcd is up, the server
running on hapair's config, its schemas and accounts on the primary, and the
replica following it (`database`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hapair.deploy import ops, rolling
from hapair.render.mariadb import settings

if TYPE_CHECKING:
    from hapair.deploy.steps import Plan


def mariadb_meanwhile(plan: Plan) -> None:
    """MariaDB's first start (seconds) begun once its config, certificates
    and storage are in place; `database` waits for it. A first start reads
    hapair's config as it is now: no restart owed then."""
    d, nodes = plan.d, list(plan.d.spec.nodes)
    plan.op(nodes, "mariadb: data directory", ops.mariadb_datadir, datadir=d.spec.database.datadir)
    plan.op(nodes, "mariadb: starting meanwhile", ops.unit_starting, unit="mariadb",
            clears=("mariadb",))


def database(plan: Plan) -> None:
    d, nodes = plan.d, list(plan.d.spec.nodes)
    plan.op(nodes, "mariadb: running", ops.unit_started, unit="mariadb", clears=("mariadb",))
    if not d.rolling:  # a live cluster's restart is rolled (rolling.py)
        plan.on_change(nodes, "mariadb", "mariadb: restart on the new config",
                       "systemctl restart mariadb")
    plan.op(nodes, "mariadb: variables a running server takes, set", ops.mariadb_globals,
            per_node=lambda n: {"wanted": {k: v for k, v in settings(d.spec, n).items()
                                           if k in rolling.DYNAMIC}})
    plan.op(nodes, "mariadb: on hapair's config", ops.mariadb_config_loaded,
            per_node=lambda n: {"server_id": n.server_id})
    r = d.roles
    plan.op([r.primary], "mariadb: schemas and accounts", ops.mariadb_bootstrap,
            spec=d.spec, secrets=d.secrets)
    plan.op([r.replica], f"mariadb: replicate from {r.primary.name}", ops.mariadb_replica_of,
            spec=d.spec, secrets=d.secrets, primary=r.primary)
    if r.fresh:
        plan.op([r.primary], "mariadb: open the first primary", ops.mariadb_open_primary,
                spec=d.spec)
