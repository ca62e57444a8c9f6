"""The write gate's contract: the row a gated server's triggers read, when
it counts as run out, the triggers' names, and the questions a checker from
outside asks (is the gate complete here; is this server read-only, writable
but refused by the gate, or writable). The agent keeps the row and the
triggers (agent/node/write_gate.py, agent/node/db_lease.py); the drills' sampler asks
the questions; neither needs the other's code."""

from __future__ import annotations

from hapair.probes.mariadb import META_SCHEMA

# The lease has run out: the row holds an end, and it has passed (SYSDATE:
# the time of the check, not of the statement). The lease watch reads its
# row (db_lease.py); the write gate reads the same end from a row of its own
# (write_gate.py), never the watch's: a read inside an application's write
# is a locking read under REPEATABLE READ, held until that write commits, and
# a commit stuck waiting for an acknowledgement then held the watch's
# renewal back until the watch closed the server (measured: an interconnect
# cut, 9.5 s without a booking). The gate's own renewal may wait so; the
# application's next writes wait behind it, and are not refused.
GATE_TABLE = f"`{META_SCHEMA}`.`lease_gate`"


def lease_stale_sql(table: str, clock: str = "SYSDATE(6)") -> str:
    return (f"EXISTS (SELECT 1 FROM {table} "  # noqa: S608 - constants only
            f"WHERE id = 1 AND until < UNIX_TIMESTAMP({clock}))")


# The gate judges a statement by the time it began (NOW is fixed for the
# statement): a long one must not refuse its own later rows because its own
# lock on the gate's row held the renewal back meanwhile (seen: the drill's
# clean-up, thousands of rows, on a starved host).
GATE_STALE_SQL = lease_stale_sql(GATE_TABLE, "NOW(6)")
VERSION = 2  # 2: the statement's start (NOW), not each row's (SYSDATE)
PREFIX = f"hapair_lease{VERSION}_"  # a changed body gets a new prefix; older ones are dropped


def ready_sql(schema: str) -> str:
    """1 where the gate is complete on this server: the lease's table is
    there and every base table of the schema has its three triggers of
    this version (the drill's sampler counts a refusing gate only then)."""
    like = PREFIX.replace("_", "\\_") + "%"
    return ("SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "  # noqa: S608 - quoted
            f"'{META_SCHEMA}' AND TABLE_NAME = 'lease_gate') = 1 AND (SELECT 3 * COUNT(*) FROM "
            f"information_schema.TABLES WHERE TABLE_SCHEMA = {literal(schema)} AND "
            "TABLE_TYPE = 'BASE TABLE') = (SELECT COUNT(*) FROM information_schema.TRIGGERS "
            f"WHERE TRIGGER_SCHEMA = {literal(schema)} AND TRIGGER_NAME LIKE '{like}')")


# 1 read-only, 2 writable but refused by the gate, 0 writable (drill/sampler.py).
SAMPLE_SQL = f"SELECT IF(@@GLOBAL.read_only, 1, IF({GATE_STALE_SQL}, 2, 0))"


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
