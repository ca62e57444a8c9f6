"""Commits released when their acknowledgements were lost (decide.acks_lost):
one binlogged write of the agent's own, on a connection of its own, in the
background. It waits for its acknowledgement as any commit does, and that
acknowledgement releases every commit before it.

A nudge sent into the connection that lost the others is lost with them, so
each goes on a row of its own (one still waiting on the server holds its
row), is waited for NUDGE_WAIT_S, and is then ended on the server: none
piles up. Failed ones space the next ones out (NUDGE_EVERY_S doubling up to
NUDGE_MAX_EVERY_S): a server whose binary log does not move at all is not
mended by more of them."""

from __future__ import annotations

import logging
import threading
import time

from hapair.agent.node.db import Database, DBError, Endpoint, no_table
from hapair.probes.mariadb import META_SCHEMA

log = logging.getLogger("hapair.agent")

TABLE = f"`{META_SCHEMA}`.`ack_nudge`"
TABLE_SQL = (f"CREATE TABLE IF NOT EXISTS {TABLE} (id TINYINT PRIMARY KEY, "
             "at TIMESTAMP(3) NOT NULL) ENGINE=InnoDB")
# Only while the server is writable: the agent's account may write through
# read_only, and a node closed meanwhile must not make a transaction of its own.
SQL = (f"INSERT INTO {TABLE} (id, at) SELECT %s, NOW(3) FROM DUAL "  # noqa: S608
       "WHERE @@GLOBAL.read_only = 0 ON DUPLICATE KEY UPDATE at = NOW(3)")
ROWS = 100
NUDGE_EVERY_S = 1.0
NUDGE_MAX_EVERY_S = 30.0
NUDGE_WAIT_S = 2.0


class AckNudge:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self.busy = threading.Event()
        self.at = -NUDGE_MAX_EVERY_S
        self.every = NUDGE_EVERY_S
        self.sent = 0

    def later(self) -> None:
        now = time.monotonic()
        if self.busy.is_set() or now - self.at < self.every:
            return
        self.busy.set()
        self.at = now
        self.sent += 1
        threading.Thread(target=self._nudge, args=(self.sent % ROWS,), name="nudge-acks",
                         daemon=True).start()

    def _nudge(self, row: int) -> None:
        db = Database(self.endpoint)
        session = 0
        try:
            session = int(db.one("SELECT CONNECTION_ID() AS id")["id"])
            try:
                db.execute(SQL, (row,), timeout=NUDGE_WAIT_S)
            except DBError as exc:
                if not no_table(exc):  # the table is made the first time
                    raise
                db.execute(TABLE_SQL, timeout=NUDGE_WAIT_S)
                db.execute(SQL, (row,), timeout=NUDGE_WAIT_S)
            self.every = NUDGE_EVERY_S
            log.info("commits waited for acknowledgements the replica's moved connection had "
                     "lost: a write of the agent's own was acknowledged, and with it every "
                     "commit before it")
        except DBError as exc:
            self.every = min(self.every * 2, NUDGE_MAX_EVERY_S)
            log.warning("a write to end lost acknowledgements was not acknowledged (%s): it is "
                        "ended, the next in %.0fs at the soonest", exc, self.every)
            self._end(session)
        finally:
            db.close()
            self.busy.clear()

    def _end(self, session: int) -> None:
        if not session:
            return
        killer = Database(self.endpoint)
        try:
            killer.kill([session])
        except DBError as exc:
            log.warning("the unacknowledged write's session %d could not be ended: %s",
                        session, exc)
        finally:
            killer.close()
