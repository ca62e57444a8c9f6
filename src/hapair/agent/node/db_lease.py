"""The primary's lease, kept inside MariaDB as well as by the agent.

The agent's guard closes the database when the lease runs out, and systemd's
watchdog stands behind a frozen agent; both need a process to be scheduled,
and the watchdog's path starts new ones (the stop hook). On a starved host
that took longer than the margin the standby waits (docs/controller.md, "The
timing inequality"). So the guard also writes the lease's end into a row of
the local database (never binlogged: each node's own), and an event inside
the server, a loop already running on one of its own threads, sets
`read_only` within `WATCH_S` of that moment, whatever the agent, systemd or
the host's scheduler are doing. It is the same rule as the guard's, read by
the server: the row holds an end only while the guard's lease binds a
writable node; NULL (or no row) leaves the server alone.

A server with commits stuck waiting for an acknowledgement (a machine resuming
from a pause) cannot take `read_only` until their sessions go, and the event
does not kill them: their clients must be stopped first (`Database.fence`),
which only the agent or its stop hook can do. Its pending `SET` holds new
commits back meanwhile."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hapair.agent.node import observe
from hapair.agent.node.db import LEASE_STALE_SQL, LEASE_TABLE, Database, DBError
from hapair.probes.mariadb import META_SCHEMA
from hapair.spec.lease import LEASE_WATCH_S

log = logging.getLogger("hapair.agent")

WATCH_S = LEASE_WATCH_S  # how often the event looks at the row (a term of the inequality)
VERSION = "hapair lease watch 4"  # the event's comment: a changed body is installed again
# Each instance of the event watches this long, then ends; the next one,
# already waiting on the lock, takes over at once. An instance that the
# scheduler starts while the server shuts down (after its threads were
# killed: nothing kills it then) ends by itself within this, and the
# shutdown with it. Endless, one hung a replica's shutdown for 10 minutes
# (seen in the soak, an apply's MariaDB restart).
RUN_S = 5
LOCK_WAIT_S = 2
TABLE = LEASE_TABLE
EVENT = f"`{META_SCHEMA}`.`lease_watch`"
RETRY_INSTALL_S = 5.0
CHECK_CLOSED_S = 1.0  # how often the watch's own closings are looked for
# A primary whose own row's writes have timed out this long commits nothing:
# it says so, and gives way to a standby that would serve (agent/core/view.py).
COMMIT_STUCK_S = 3.0

# until: the lease's end (UNIX time, NULL: none binds); closed_at, late_s: when
# the watch last closed the server itself, and how long after it could first
# have seen the end (the end, or its last look before: a server that stood
# still, a machine paused whole, could not look meanwhile).
TABLE_SQL = (f"CREATE TABLE IF NOT EXISTS {TABLE} (id TINYINT PRIMARY KEY, "
             "until DOUBLE NULL, closed_at DOUBLE NULL, late_s DOUBLE NULL) ENGINE=InnoDB")

# One loop at a time (GET_LOCK): the scheduler starts the event every second;
# a start waits up to LOCK_WAIT_S for the lock, so that when the loop ends
# (after RUN_S) or is killed, a waiting one takes over at once, and ends
# without looking if it never got it. SYSDATE, not NOW:
# NOW is fixed for the whole event. The session's zone is UTC (set before
# CREATE: an event keeps the zone it was made in), so UNIX_TIMESTAMP has no
# DST hour to get wrong.
EVENT_SQL = f"""CREATE OR REPLACE EVENT {EVENT} ON SCHEDULE EVERY 1 SECOND
ON COMPLETION PRESERVE ENABLE COMMENT '{VERSION}' DO
BEGIN
  DECLARE looked DOUBLE DEFAULT UNIX_TIMESTAMP(SYSDATE(6));
  DECLARE began DOUBLE DEFAULT UNIX_TIMESTAMP(SYSDATE(6));
  IF GET_LOCK('hapair.lease_watch', {LOCK_WAIT_S}) = 1 THEN
    SET began = UNIX_TIMESTAMP(SYSDATE(6)), looked = began;
    WHILE looked < began + {RUN_S} DO
      IF @@GLOBAL.read_only = 0 AND {LEASE_STALE_SQL} THEN
        SET GLOBAL read_only = ON;
        SET STATEMENT sql_log_bin = 0 FOR UPDATE {TABLE}
          SET closed_at = UNIX_TIMESTAMP(SYSDATE(6)),
              late_s = closed_at - GREATEST(until, looked) WHERE id = 1;
      END IF;
      SET looked = UNIX_TIMESTAMP(SYSDATE(6));
      DO SLEEP({WATCH_S});
    END WHILE;
    DO RELEASE_LOCK('hapair.lease_watch');
  END IF;
END"""  # noqa: S608 - constants only

LOCAL = "SET STATEMENT sql_log_bin = 0 FOR"  # this server's own, never replicated
WRITE_SQL = (f"{LOCAL} INSERT INTO {TABLE} (id, until) "  # noqa: S608 - constants only
             "VALUES (1, %s) ON DUPLICATE KEY UPDATE until = VALUES(until)")


def install(db: Database) -> None:
    """The table and the event on this server, neither binlogged (each node
    has its own; an event replicated to a replica would arrive disabled), and
    the scheduler on (the config says so too; a server started on an older
    one has it off)."""
    row = db.one("SELECT EVENT_COMMENT AS c FROM information_schema.EVENTS "
                 "WHERE EVENT_SCHEMA = %s AND EVENT_NAME = 'lease_watch'", (META_SCHEMA,))
    db.execute(f"{LOCAL} {TABLE_SQL}")
    if row.get("c") != VERSION:
        db.execute(f"SET STATEMENT sql_log_bin = 0, time_zone = '+00:00' FOR {EVENT_SQL}")
        log.info("the lease watch is installed in the local database (%s)", VERSION)
    if db.one("SELECT @@GLOBAL.event_scheduler AS s").get("s") != "ON":
        db.execute("SET GLOBAL event_scheduler = ON")


class LeaseRow:
    """The agent's side: the guard says what the row should hold (`keep`,
    which never waits), a thread of its own writes it when it changes. A
    write can wait: behind a `SET GLOBAL read_only` that waits for stuck
    commits (the watch's own, on a machine resuming from a pause), and the
    guard must not wait with it, or it could not stop the application that
    holds those commits (measured: 0.3 s more writable after a resume)."""

    WHAT = "the lease watch"
    WRITE_SQL = WRITE_SQL
    TIMEOUT_S = 1.0

    def __init__(self, db: Database,
                 on_closed: Callable[[float, float], None] = lambda at, late: None,
                 seen: Path | None = None):
        self.db = db
        self.on_closed = on_closed  # (when, how long after the lease's end) the watch closed
        # The last closing reported, kept across the agent's restarts: the row
        # keeps its last closing, and every new agent reported it again as
        # new (a line, a self-fence counted) after each apply or reboot.
        self.seen_file = seen
        self.wanted: float | None = None
        self.written: float | None = None
        self.known = False  # whether `written` is what the row says
        self.failing = False  # the last write failed (said once, not every time)
        self.timing_out_since = 0.0  # monotonic; 0: the last write did not time out
        self.installed = False
        self.tried_at = -RETRY_INSTALL_S
        self.closed_seen = _read_seen(seen)  # the watch's last closing already reported
        self.changed = threading.Event()

    def keep(self, until: float | None) -> None:
        """until: the lease's end (wall clock, seconds) or None (no lease binds)."""
        if until != self.wanted or not self.known:
            self.wanted = until
            self.changed.set()

    def run(self) -> None:
        looked = time.monotonic()
        while True:
            self.changed.wait(CHECK_CLOSED_S)
            self.changed.clear()
            try:
                if time.monotonic() - looked >= CHECK_CLOSED_S:
                    # Written again now and then whatever it said: the row
                    # can be replaced under us (a rebuild copies the
                    # primary's, a restore its backup's).
                    self.known = False
                self.write_once()
                if time.monotonic() - looked >= CHECK_CLOSED_S:
                    looked = time.monotonic()
                    self.now_and_then()
            except Exception:  # noqa: BLE001 - the writer must outlive any error
                log.exception("lease row")

    def install(self) -> None:
        install(self.db)

    def now_and_then(self) -> None:
        """Every CHECK_CLOSED_S: the watch's own closings, reported."""
        closed = self.closed()
        if closed is not None:
            self.on_closed(*closed)

    def write_once(self) -> None:
        """Installs the watch if it is not yet, and writes what is wanted if
        the row does not say it already."""
        now = time.monotonic()
        if not self.installed:
            if now - self.tried_at < RETRY_INSTALL_S:
                return
            self.tried_at = now
            try:
                self.install()
                self.installed = True
            except DBError as exc:
                log.warning("%s could not be installed (retried in %.0fs): %s", self.WHAT,
                            RETRY_INSTALL_S, exc)
                return
        until = self.wanted
        if self.known and until == self.written:
            return
        try:
            self.db.execute(self.WRITE_SQL, (until,), timeout=self.TIMEOUT_S)
        except DBError as exc:
            if not self.failing:
                log.warning("the lease's end could not be written to the database: %s", exc)
            self.known = False
            self.failing = True
            if not timed_out(str(exc)):
                self.timing_out_since = 0.0
            elif not self.timing_out_since:
                self.timing_out_since = now
            return
        self.written, self.known, self.failing = until, True, False
        self.timing_out_since = 0.0

    def stuck(self, now: float) -> str:
        """What the server's commits look like from this row ("" fine): its
        writes are never binlogged, so they wait for no replica's
        acknowledgement, only for the server's own commit path. Seen: a
        backup's `BLOCK_COMMIT` queued behind a stuck `ALTER` held every
        commit for 7 minutes while the status said "committing alone"."""
        return commits_stuck(self.timing_out_since, now)

    def closed(self) -> tuple[float, float] | None:
        """(when, how long after the lease's end) the watch last closed the
        server, once per closing: the agent reports it (a measured term of
        the timing inequality)."""
        try:
            row = self.db.one(f"SELECT closed_at, late_s FROM {TABLE} WHERE id = 1")  # noqa: S608
        except DBError:
            return None
        at, late = row.get("closed_at"), row.get("late_s")
        if at is None or late is None or at == self.closed_seen:
            return None
        self.closed_seen = at
        _write_seen(self.seen_file, at)
        return float(at), float(late)


def _read_seen(path: Path | None) -> float | None:
    try:
        return float(observe.read_text(str(path)) or "") if path is not None else None
    except ValueError:
        return None


def _write_seen(path: Path | None, at: float) -> None:
    if path is None:
        return
    try:
        observe.write_if_changed(str(path), repr(float(at)))
    except OSError as exc:
        log.warning("the lease watch's last closing could not be kept in %s: %s", path, exc)


def timed_out(error: str) -> bool:
    """A write that waited and gave up (ours: the read timeout; the server's:
    a lock wait), not one refused at once (pure)."""
    return "timed out" in error or "Lock wait timeout" in error


def commits_stuck(timing_out_since: float, now: float) -> str:
    """The problem in words once the row's writes have timed out for
    COMMIT_STUCK_S in a row (pure); "" before."""
    if not timing_out_since or now - timing_out_since < COMMIT_STUCK_S:
        return ""
    return (f"the database's commits timed out for {now - timing_out_since:.1f}s (the agent's "
            "own row, never replicated: a lock on the server's commit path)")
