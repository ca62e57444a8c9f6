"""The MariaDB server config: GTID replication with lossless semi-sync, every
node starting read-only until the agent opens the primary."""

from __future__ import annotations

from hapair.paths import AGENT_CA, DB_CERT, DB_KEY
from hapair.render.files import RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

CONFIG_PATH = "/etc/mysql/mariadb.conf.d/60-hapair.cnf"


def settings(spec: ClusterSpec, node: Node) -> dict[str, str]:
    db = spec.database
    semi = db.durability == "semi-sync"
    out = {
        "server_id": str(node.server_id),
        # Every address: loopback, the interconnect and the public one (the
        # replication's fallback path) are used, and 10.11 binds to one or to
        # all. The firewall keeps clients out (docs/controller.md, "What crosses
        # the networks").
        "bind_address": "0.0.0.0",
        "port": str(db.port),
        "datadir": db.datadir,
        "skip_name_resolve": "ON",
        # TLS from the cluster CA: replication and the agents' connections
        # from the peer require it (their accounts say REQUIRE SSL).
        "ssl_ca": AGENT_CA,
        "ssl_cert": DB_CERT,
        "ssl_key": DB_KEY,
        "tls_version": "TLSv1.2,TLSv1.3",
        "character_set_server": "utf8mb4",
        "collation_server": "utf8mb4_unicode_ci",
        # Every node starts read-only; the agent opens the one primary.
        "read_only": "ON",
        # Replication only when the agent says from where.
        "skip_slave_start": "ON",
        # Durable commits, row events, GTIDs that cannot diverge silently.
        "log_bin": "mariadb-bin",
        "log_bin_index": "mariadb-bin.index",
        "binlog_format": "ROW",
        "log_slave_updates": "ON",
        "sync_binlog": "1",
        "innodb_flush_log_at_trx_commit": "1",
        "gtid_strict_mode": "ON",
        "relay_log": "relay-bin",
        "relay_log_recovery": "ON",
        "slave_net_timeout": "5",
        "slave_parallel_threads": str(db.parallel_threads),
        "slave_parallel_mode": "optimistic",
        # Master-side semi-sync stays off on a replica (it would stall its SQL
        # thread); the agent switches it on when it promotes a node.
        "rpl_semi_sync_master_enabled": "OFF",
        "rpl_semi_sync_slave_enabled": "ON" if semi else "OFF",
        # STOP SLAVE (a move to the other network) first asks the primary to
        # end its dump thread, over the path being left: when that path is
        # dead, give up after 1 s (5 s by default) while commits wait.
        "rpl_semi_sync_slave_kill_conn_timeout": "1",
        # AFTER_SYNC: no other session sees a commit before the replica has it.
        "rpl_semi_sync_master_wait_point": "AFTER_SYNC",
        "rpl_semi_sync_master_wait_no_slave": "ON",
        "rpl_semi_sync_master_timeout": str(db.semi_sync_timeout_ms),
        # Every start is as a replica: after a crash, transactions that were
        # written to the binlog but never acknowledged are truncated, not
        # committed (a primary that crashed mid-commit comes back without them).
        "init_rpl_role": "SLAVE",
        # The agent's lease, watched by the server itself (agent/node/db_lease.py).
        "event_scheduler": "ON",
    }
    return out


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    body = "\n".join(f"{k} = {v}" for k, v in settings(spec, node).items())
    text = f"{header(spec, node)}\n[mariadbd]\n{body}\n"
    return [RenderedFile(CONFIG_PATH, text, 0o644, "mariadb")]
