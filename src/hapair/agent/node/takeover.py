"""A replica becomes the primary's successor (the database side of a
promotion): everything received is applied, replication is left, a new epoch
is recorded. Writes stay closed; the caller opens them."""

from __future__ import annotations

import contextlib

from hapair import gtid
from hapair.agent.node.db import Database, DBError
from hapair.probes.mariadb import META_SCHEMA as META
from hapair.probes.mariadb import MariaDBState


def take_over(db: Database, node: str, peer_binlog: str | None, peer_alive: bool,
              catch_up_s: float = 3.0, apply_s: float = 60.0) -> MariaDBState:
    """Become the primary's successor: receive what the fenced peer has (if
    it answered), apply everything received, stop replicating, record the
    new epoch. Writes stay closed.

    With the peer gone, stopping the receiving (IO) thread takes seconds (it
    sits in a connect to a dead host): instead, apply what was received,
    stop the applying (SQL) thread, which is immediate, and let the IO thread
    stop in the background. Nothing it might still fetch is ever applied."""
    state = db.probe()
    if peer_binlog and state.slave.io_running:
        # What we do not get within catch_up_s was never confirmed to anyone.
        with contextlib.suppress(DBError):
            db.wait_for("the peer's last transactions",
                    lambda s: gtid.contains(s.slave.gtid_io_pos, peer_binlog),
                    catch_up_s)
    if peer_alive:
        db.execute("STOP SLAVE IO_THREAD", timeout=10)
    received = db.probe().slave.gtid_io_pos
    db.wait_for("the relay log to be applied",
                  lambda s: gtid.contains(s.gtid_slave_pos, received), apply_s)
    if peer_alive:
        db.execute("STOP SLAVE", timeout=10)
        db.execute("RESET SLAVE ALL")
    else:
        db.execute("STOP SLAVE SQL_THREAD", timeout=10)
        db.leave_replication_later()
    db.set_semi_sync(False)  # the epoch row must not wait for a replica
    db.execute(f"UPDATE {META}.epoch SET epoch = epoch + 1, primary_node = %s, "  # noqa: S608
                 "changed_at = NOW(3) WHERE id = 1", (node,))
    return db.probe()
