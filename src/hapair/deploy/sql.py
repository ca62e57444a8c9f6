"""SQL for the cluster's users and replication, as pure functions.

Statements such as CREATE USER or CHANGE MASTER take no bind parameters, so
literals are escaped here, in one place, and tested."""

from __future__ import annotations

from dataclasses import dataclass

from hapair.paths import AGENT_CA
from hapair.probes.mariadb import META_SCHEMA
from hapair.secrets import Secrets
from hapair.spec.models import ClusterSpec, Node


def literal(value: str) -> str:
    """A MariaDB string literal (NO_BACKSLASH_ESCAPES off, the default)."""
    escaped = (
        value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
        .replace("\n", "\\n").replace("\r", "\\r").replace("\x1a", "\\Z")
    )
    return f"'{escaped}'"


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Account:
    user: str
    host: str
    secret: str  # which Secrets field holds its password
    grants: tuple[str, ...]  # "PRIVS ON target"
    tls: bool = False  # REQUIRE SSL: every account used across the networks

    @property
    def key(self) -> str:
        return f"{self.user}@{self.host}"


def accounts(spec: ClusterSpec) -> tuple[Account, ...]:
    db = spec.database
    users = db.users
    node_hosts = sorted({str(a) for n in spec.nodes for a in (n.interconnect, n.public)})
    app_grants = (
        # Data changes only, nothing more: no table changes (those are the
        # migration account's), no SUPER, no READ_ONLY ADMIN, so read_only
        # binds it.
        f"SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES "
        f"ON {ident(db.name)}.*",
    )
    migration_grants = (
        # web.setup's commands (the schema's migrations), on the primary only:
        # no READ_ONLY ADMIN either.
        f"SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, "
        f"CREATE VIEW, SHOW VIEW, CREATE TEMPORARY TABLES, LOCK TABLES ON {ident(db.name)}.*",
    )
    repl_grants = ("REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.*",)
    admin_grants = (
        # The agent: roles (read_only, semi-sync, replication), fencing (KILL),
        # reading state, and its own epoch table.
        "READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, "
        "BINLOG MONITOR, SLAVE MONITOR, CONNECTION ADMIN, PROCESS, RELOAD, SUPER ON *.*",
        f"ALL PRIVILEGES ON {ident(META_SCHEMA)}.*",
        # The lease's write gate on the application's tables (agent/node/write_gate.py).
        f"TRIGGER ON {ident(db.name)}.*",
    )
    local = ("localhost", "127.0.0.1")
    out = [Account(users.app, h, "db_app_password", app_grants) for h in local]
    out += [Account(users.migration, h, "db_migration_password", migration_grants)
            for h in local]
    out += [Account(users.replication, h, "db_replication_password", repl_grants, tls=True)
            for h in node_hosts]
    out += [Account(users.admin, "localhost", "db_admin_password", admin_grants)]
    out += [Account(users.admin, h, "db_admin_password", admin_grants, tls=True)
            for h in node_hosts]
    return tuple(out)


def bootstrap_sql(spec: ClusterSpec, secrets: Secrets, present: frozenset[str],
                  schemas: frozenset[str], ddl: frozenset[str] = frozenset(),
                  plain: frozenset[str] = frozenset(),
                  trigger: frozenset[str] = frozenset()) -> list[str]:
    """What the first primary runs once: schemas, then the accounts not yet
    there (and an application account that may still change tables loses
    that: `ddl` holds "user@host schema" of the accounts that may; an account
    used across the networks that does not require TLS yet is made to:
    `plain` holds those that do not; an agent's account made by an earlier
    hapair is given the triggers of the application's schema: `trigger`
    holds "user@host schema" of the accounts that may make them)."""
    out = []
    for schema in (spec.database.name, META_SCHEMA):
        if schema not in schemas:
            out.append(f"CREATE DATABASE IF NOT EXISTS {ident(schema)} "
                       "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    if META_SCHEMA not in schemas:
        out.append(
            f"CREATE TABLE IF NOT EXISTS {ident(META_SCHEMA)}.epoch ("
            "id TINYINT PRIMARY KEY, epoch BIGINT NOT NULL, primary_node VARCHAR(64) NOT NULL, "
            "changed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB"
        )
        out.append(
            # literal() escapes: these statements go through the mariadb client.
            f"INSERT IGNORE INTO {ident(META_SCHEMA)}.epoch (id, epoch, primary_node) "  # noqa: S608
            f"VALUES (1, 1, {literal(spec.nodes[0].name)})"
        )
    for acc in accounts(spec):
        if acc.key in present:
            if acc.tls and acc.key in plain:
                out.append(f"ALTER USER {literal(acc.user)}@{literal(acc.host)} REQUIRE SSL")
            if acc.user == spec.database.users.app and f"{acc.key} {spec.database.name}" in ddl:
                # Made by an earlier hapair, which let it change tables.
                out.append(f"REVOKE CREATE, ALTER, INDEX, DROP, REFERENCES ON "
                           f"{ident(spec.database.name)}.* FROM "
                           f"{literal(acc.user)}@{literal(acc.host)}")
            if (acc.user == spec.database.users.admin
                    and f"{acc.key} {spec.database.name}" not in trigger):
                out.append(f"GRANT TRIGGER ON {ident(spec.database.name)}.* TO "
                           f"{literal(acc.user)}@{literal(acc.host)}")
            continue
        password = getattr(secrets, acc.secret).get_secret_value()
        who = f"{literal(acc.user)}@{literal(acc.host)}"
        out.append(f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY {literal(password)}"
                   + (" REQUIRE SSL" if acc.tls else ""))
        out += [f"GRANT {g} TO {who}" for g in acc.grants]
    return out


def replicate_from(spec: ClusterSpec, secrets: Secrets, primary: Node,
                   network: str = "interconnect") -> list[str]:
    """Make this node a replica of ``primary`` by GTID (run on the replica)."""
    host = str(primary.address("interconnect" if network == "interconnect" else "public"))
    password = secrets.db_replication_password.get_secret_value()
    return [
        "STOP SLAVE",
        f"CHANGE MASTER TO MASTER_HOST={literal(host)}, MASTER_PORT={spec.database.port}, "
        f"MASTER_USER={literal(spec.database.users.replication)}, "
        f"MASTER_PASSWORD={literal(password)}, MASTER_USE_GTID=slave_pos, "
        f"MASTER_CONNECT_RETRY=1, {MASTER_SSL}",
        "START SLAVE",
    ]


# Replication over TLS, the primary's certificate checked against the cluster
# CA and its address (the certificates name the nodes' addresses).
MASTER_SSL = (f"MASTER_SSL=1, MASTER_SSL_CA={literal(AGENT_CA)}, "
              "MASTER_SSL_VERIFY_SERVER_CERT=1")


def open_primary(spec: ClusterSpec) -> list[str]:
    """Open a node for writes, semi-sync on first (the agent does this later)."""
    semi = spec.database.durability == "semi-sync"
    return [
        # (replica-side semi-sync stays on: the day it is a replica, it acknowledges)
        f"SET GLOBAL rpl_semi_sync_master_enabled = {'ON' if semi else 'OFF'}",
        "SET GLOBAL read_only = OFF",
    ]


def set_globals(values: dict[str, str]) -> list[str]:
    """SET GLOBAL for each variable: a number or ON/OFF as it is, anything
    else as a string literal; a name that is not a plain word is refused."""
    out = []
    for name, value in values.items():
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a variable name: {name!r}")
        plain = value.isdigit() or value.upper() in ("ON", "OFF")
        out.append(f"SET GLOBAL {name} = {value if plain else literal(value)}")
    return out


def script(statements: list[str]) -> str:
    return "".join(f"{s};\n" for s in statements)
