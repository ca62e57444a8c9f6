"""Commits whose semi-sync acknowledgements were lost, let go.

When the interconnect is cut while commits are on their way, the replica
may have received them and its acknowledgements be lost with the path. It
reconnects over the other network from what it has, so they are never sent
again and nothing acknowledges them; the waiting commit holds the binary log
(wait point AFTER_SYNC), so no later transaction comes whose acknowledgement
would cover it. A replicated write of the agent's own was tried for that
(docs/controller.md, "Measured facts") and stuck behind the waiting commit.

This ends the wait instead: the statements waiting are killed by query id
(``KILL QUERY ID``: a session that has moved on to another statement is not
touched), and only when the replica's reported position holds the binary log
as read *after* those statements were listed, so every one of them waits
for a transaction the replica has. The server then finishes each commit and
its client is told it was done, which is true: the standby holds it, as an
acknowledgement would have said."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hapair import gtid
from hapair.agent.node.db import Database, DBError, Endpoint

# Statements waiting this long for an acknowledgement, by query id. A
# commit's wait is a millisecond or two when nothing is lost.
LOST_ACK_MS = 300
WAITING_SQL = ("SELECT query_id FROM information_schema.PROCESSLIST WHERE "
               "state LIKE 'Waiting for semi-sync%%' AND time_ms >= %s")
BINLOG_POS_SQL = "SELECT @@GLOBAL.gtid_binlog_pos AS pos"
EVERY_S = 0.5  # at most one release this often
NO_SUCH_QUERY = "Unknown query id"


def release(db: Database, held: str) -> tuple[list[int], str]:
    """Kill the statements waiting for an acknowledgement if the replica,
    which reported holding ``held``, holds the binary log read after they
    were listed. The query ids killed ([] when none was) and that position."""
    waiting = [int(r["query_id"]) for r in db.rows(WAITING_SQL, (LOST_ACK_MS,))]
    if not waiting:
        return [], ""
    pos = str(db.one(BINLOG_POS_SQL).get("pos") or "")
    if not gtid.received_all(held, pos):
        return [], pos
    for query in waiting:
        try:
            db.execute("KILL QUERY ID %s", (query,), timeout=1.0)
        except DBError as exc:
            if NO_SUCH_QUERY not in str(exc):
                raise  # gone meanwhile: acknowledged after all
    return waiting, pos


class Releaser:
    """release() on a connection of its own, in the background, one at a
    time and at most once an EVERY_S; ``said`` gets one line per release."""

    def __init__(self, endpoint: Endpoint, said: Callable[[str], None]) -> None:
        self.endpoint, self.said = endpoint, said
        self._busy = threading.Event()
        self._last = -EVERY_S

    def later(self, held: str) -> None:
        now = time.monotonic()
        if self._busy.is_set() or now - self._last < EVERY_S:
            return
        self._busy.set()
        self._last = now
        threading.Thread(target=self._run, args=(held,), name="release-acks",
                         daemon=True).start()

    def _run(self, held: str) -> None:
        db = Database(self.endpoint)
        try:
            killed, pos = release(db, held)
            if killed:
                self.said(f"{len(killed)} commit(s) waited for acknowledgements lost with the "
                          f"replica's old connection; it holds {pos} (reports {held}): let go")
        except DBError as exc:
            self.said(f"letting go commits whose acknowledgements were lost failed: {exc}")
        finally:
            db.close()
            self._busy.clear()
