"""The lease checked by every write of the application, inside its statement.

The lease watch (db_lease.py) closes a server whose lease has run out with
`SET GLOBAL read_only`, and that waits for commits already under way. On a
machine that resumes from a pause those are stuck waiting for an
acknowledgement that never comes, until the agent or its stop hook has
stopped the application and killed their sessions: measured 0.05-0.5 s
writable beside the new primary after the resume, longer on a starved host.

So each of the application's tables also carries a trigger, before every
insert, update and delete, that reads the lease's end (from a row of its
own, not the watch's: db.GATE_TABLE says why): a writable server
whose lease has run out refuses the row with MariaDB's own read-only error
(1290), whatever Python, systemd or the host's scheduler are doing. It is a
fencing token checked by the storage (Kleppmann, "How to do distributed
locking"): the first write after a resume is refused, not the first after
someone had the CPU to close the server. It refuses nothing the watch would
not refuse 20 ms later: the same end, the same condition.

The triggers are this node's own, as the row and the watch are: made with
`sql_log_bin = 0` on every node (a replica too; its read_only keeps them
idle, and row-based replication does not fire them), copied by a rebuild
with the rest of the data. The application never sees them but as a
read-only error, which it already retries. The HA tool names no table: it
gates whatever base tables the application's schema holds, and a new one
within `CHECK_S`."""

from __future__ import annotations

import hashlib
import logging
import time

from hapair.agent.node.db import Database, DBError
from hapair.agent.node.db_lease import RETRY_INSTALL_S, LeaseRow
from hapair.model.gate import GATE_STALE_SQL, GATE_TABLE, PREFIX

log = logging.getLogger("hapair.agent")

OLD = "hapair\\_lease%"  # any version's (LIKE)
EVENTS = ("INSERT", "UPDATE", "DELETE")
CHECK_S = 5.0  # how often the schema is looked at for tables without the gate
REFUSED = "hapair: the lease of this primary has run out; it is read-only now"  # no quote in it


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def trigger_name(table: str, event: str) -> str:
    """Unique in the schema (MariaDB's trigger names are per schema), at most
    64 characters."""
    name = f"{PREFIX}{event[0].lower()}_{table}"
    if len(name) <= 64:
        return name
    return f"{PREFIX}{event[0].lower()}_{hashlib.sha256(table.encode()).hexdigest()[:24]}"


def trigger_sql(schema: str, table: str, event: str) -> str:
    return (f"CREATE TRIGGER {ident(schema)}.{ident(trigger_name(table, event))} "
            f"BEFORE {event} ON {ident(schema)}.{ident(table)} FOR EACH ROW "
            f"IF @@GLOBAL.read_only = 0 AND {GATE_STALE_SQL} THEN "
            f"SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1290, MESSAGE_TEXT = '{REFUSED}'; "
            "END IF")


def plan(tables: list[str], triggers: list[tuple[str, str, str]]
         ) -> tuple[list[tuple[str, str]], list[str]]:
    """(the (table, event) pairs to gate, the triggers of older versions to
    drop), from the schema's base tables and its hapair triggers as (name,
    table, event). Pure."""
    have = {(t, e) for name, t, e in triggers if name == trigger_name(t, e)}
    create = [(t, e) for t in sorted(tables) for e in EVENTS if (t, e) not in have]
    drop = sorted(name for name, _, _ in triggers if not name.startswith(PREFIX))
    return create, drop


TABLES_SQL = ("SELECT TABLE_NAME AS t FROM information_schema.TABLES "
              "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'")
TRIGGERS_SQL = ("SELECT TRIGGER_NAME AS n, EVENT_OBJECT_TABLE AS t, EVENT_MANIPULATION AS e "
                "FROM information_schema.TRIGGERS "
                "WHERE TRIGGER_SCHEMA = %s AND TRIGGER_NAME LIKE %s")
# Never binlogged (each node's own), and never waiting for a table in use: a
# pending exclusive lock would hold every booking back behind it. Tried
# again within CHECK_S.
LOCAL = "SET STATEMENT sql_log_bin = 0, lock_wait_timeout = 0 FOR"


def ensure(db: Database, schema: str) -> int:
    """Gates every base table of the schema that lacks it; how many triggers
    it made. DBError if the schema could not be read; a table in use is
    left for the next look."""
    tables = [str(r["t"]) for r in db.rows(TABLES_SQL, (schema,))]
    triggers = [(str(r["n"]), str(r["t"]), str(r["e"]))
                for r in db.rows(TRIGGERS_SQL, (schema, OLD))]
    create, drop = plan(tables, triggers)
    made = 0
    for name in drop:
        _try(db, f"{LOCAL} DROP TRIGGER IF EXISTS {ident(schema)}.{ident(name)}", name)
    for table, event in create:
        made += _try(db, f"{LOCAL} {trigger_sql(schema, table, event)}",
                     trigger_name(table, event))
    if made:
        log.info("the lease gate is on %d more of %s's writes (%d tables)", made, schema,
                 len(tables))
    return made


def _try(db: Database, sql: str, name: str) -> int:
    try:
        db.execute(sql)
    except DBError as exc:
        log.debug("trigger %s not changed now (tried again later): %s", name, exc)
        return 0
    return 1


TABLE_SQL = (f"CREATE TABLE IF NOT EXISTS {GATE_TABLE} (id TINYINT PRIMARY KEY, "
             "until DOUBLE NULL) ENGINE=InnoDB")
# The application's writes under way hold the row (db.py): a renewal waits
# for their commits, up to WAIT_S, however long an acknowledgement takes.
WAIT_S = 10
WRITE_SQL = (f"SET STATEMENT sql_log_bin = 0, innodb_lock_wait_timeout = {WAIT_S} FOR "  # noqa: S608
             f"INSERT INTO {GATE_TABLE} (id, until) "
             "VALUES (1, %s) ON DUPLICATE KEY UPDATE until = VALUES(until)")


class GateRow(LeaseRow):
    """The gate's copy of the lease's end, kept as the watch's row is (the
    guard says what it should hold), by a thread of its own: a write waits
    for the commits of the application's writes under way, and the watch's
    row must not wait with it. Now and then the schema's tables that lack
    the gate get it."""

    WHAT = "the write gate"
    WRITE_SQL = WRITE_SQL
    TIMEOUT_S = WAIT_S + 1.0

    def __init__(self, db: Database, schema: str):
        super().__init__(db)
        self.schema = schema
        self.gated = -CHECK_S  # when the schema was last looked at

    def install(self) -> None:
        self.db.execute(f"SET STATEMENT sql_log_bin = 0 FOR {TABLE_SQL}")

    def now_and_then(self) -> None:
        if time.monotonic() - self.gated < CHECK_S:
            return
        self.gated = time.monotonic()
        try:
            ensure(self.db, self.schema)
        except DBError as exc:
            log.debug("the write gate could not look at %s: %s", self.schema, exc)


assert RETRY_INSTALL_S <= CHECK_S  # a gate table made late is gated within a look or two
