"""How the agent drives MariaDB: one narrow class over PyMySQL, used for the
local server (unix socket) and, when fencing without the peer's agent, the
peer's server over the network. Parameters, never string formatting, except
for identifiers that come from the validated spec."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from hapair.model.gate import GATE_TABLE, lease_stale_sql
from hapair.paths import AGENT_CA
from hapair.probes import mariadb
from hapair.probes.mariadb import META_SCHEMA, MariaDBState

SOCKET = "/run/mysqld/mysqld.sock"
# The lease watch's row (agent/node/db_lease.py), emptied before a node opens: a
# row from another life of this data (a rebuild copies the primary's, a
# restore its backup's) would hold a stale end and close the new primary.
LEASE_TABLE = f"`{META_SCHEMA}`.`lease`"
LEASE_STALE_SQL = lease_stale_sql(LEASE_TABLE)
OPEN_SQL = "SET GLOBAL read_only = OFF"
LEASE_CLEAR_SQL = [f"SET STATEMENT sql_log_bin = 0 FOR UPDATE {t} SET until = NULL"  # noqa: S608
                   for t in (LEASE_TABLE, GATE_TABLE)]
NO_SUCH_TABLE = 1146


class DBError(Exception):
    pass


@dataclass(frozen=True)
class Endpoint:
    user: str
    password: str
    host: str = ""  # empty: the local unix socket
    port: int = 3306
    socket: str = SOCKET

    def connect(self, timeout: float = 2.0) -> pymysql.connections.Connection[Any]:
        # The peer's server over TLS (its accounts for us REQUIRE SSL), its
        # certificate checked against the cluster CA and its address.
        # The local server over its socket in clear (PyMySQL would otherwise
        # "prefer" TLS there too: a handshake and encryption for nothing).
        where: dict[str, Any] = (
            {"host": self.host, "port": self.port,
             "ssl": {"ca": AGENT_CA, "check_hostname": True}}
            if self.host else {"unix_socket": self.socket, "ssl_disabled": True})
        try:
            return pymysql.connect(
                user=self.user, password=self.password, autocommit=True,
                connect_timeout=max(1, min(int(timeout), 2)), read_timeout=timeout,
                write_timeout=timeout, cursorclass=pymysql.cursors.DictCursor, **where)
        except pymysql.MySQLError as exc:
            raise DBError(str(exc)) from exc


def unsent(exc: BaseException | None) -> bool:
    """Whether the statement never reached the server (2006, CR_SERVER_GONE_ERROR)."""
    return isinstance(exc, pymysql.err.OperationalError) and exc.args[:1] == (2006,)


def follow_timeouts(budget: float) -> tuple[float, float]:
    """How follow() shares its budget (pure): STOP SLAVE's timeout, and each
    of the three statements' after it."""
    return budget / 2, budget / 6


class Database:
    """One server. Every call opens what it needs if the last connection died."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._leaving = threading.Event()

    def _run(self, sql: str, args: tuple[Any, ...] = (), timeout: float = 3.0
             ) -> list[dict[str, Any]]:
        with self._lock:
            reused = self._conn is not None
            try:
                return self._once(sql, args, timeout)
            except DBError as exc:
                # A kept connection the server closed meanwhile (a restart, a kill):
                # once more on a new one (a fence failed so, and told the
                # promoting peer that this database was down).
                if not (reused and unsent(exc.__cause__)):
                    raise
                return self._once(sql, args, timeout)

    def _once(self, sql: str, args: tuple[Any, ...], timeout: float) -> list[dict[str, Any]]:
        try:
            if self._conn is None:
                self._conn = self.endpoint.connect(timeout)
            with self._conn.cursor() as cur:
                cur.execute(sql, args or None)
                return list(cur.fetchall())
        except (pymysql.MySQLError, OSError) as exc:
            if self._conn is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    self._conn.close()
            self._conn = None
            raise DBError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any]:
        rows = self._run(sql, args)
        return rows[0] if rows else {}

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self._run(sql, args)

    def execute(self, sql: str, args: tuple[Any, ...] = (), timeout: float = 3.0) -> None:
        self._run(sql, args, timeout)

    # ---- the probe -------------------------------------------------------

    def probe(self) -> MariaDBState:
        """The shared MariaDB probe (hapair.probes.mariadb) over this connection."""
        try:
            variables = self.one(mariadb.VARIABLES_SQL)
            slave_rows = self._run(mariadb.SLAVE_SQL)
            semi_rows = self._run(mariadb.SEMI_SYNC_SQL)
            try:
                epoch = self.one(mariadb.EPOCH_SQL)
            except DBError:
                epoch = {}  # before apply made the table
        except DBError as exc:
            return MariaDBState(up=False, error=str(exc))
        return mariadb.from_answers(
            variables, mariadb.slave_status(slave_rows[0] if slave_rows else {}),
            mariadb.semi_sync({str(r["Variable_name"]): str(r["Value"]) for r in semi_rows}),
            epoch)

    # ---- fencing -----------------------------------------------------------

    def app_sessions(self, app_user: str) -> list[int]:
        rows = self._run(
            "SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() AND "
            "(user = %s OR state LIKE 'Waiting for semi-sync%%')", (app_user,))
        return [int(r["id"]) for r in rows]

    def dumps_to(self, address: str) -> list[int]:
        """The binary log dump threads serving a replica at this address."""
        rows = self._run(
            "SELECT id FROM information_schema.PROCESSLIST WHERE command LIKE 'Binlog Dump%%' "
            "AND host LIKE %s", (f"{address}:%",))
        return [int(r["id"]) for r in rows]

    def kill(self, ids: list[int]) -> None:
        for i in ids:
            try:
                self.execute("KILL CONNECTION %s", (i,))
            except DBError as exc:
                if "Unknown thread" not in str(exc):
                    raise

    def close_writes(self, app_user: str, seconds: float = 5.0,
              stop_clients: Callable[[], None] | None = None, patience: float = 0.3) -> None:
        """read_only=ON, however the server is busy.

        SET GLOBAL read_only waits for commits in progress, and a commit waiting
        for a semi-sync acknowledgement waits for good. Killing such a session
        is no answer: the server then finishes the commit and its client may
        still be told it succeeded, although the standby never got it
        (measured: a booking confirmed and then lost). So when the setting does
        not take at once, the clients are stopped first (``stop_clients``: the
        application's processes are killed, so no success can reach anyone),
        and only then their sessions. Without ``stop_clients`` (fencing a peer's
        database from afar) nothing is killed, and the fence fails instead.
        patience: how long the setting may take before the clients are stopped."""
        result: list[BaseException | None] = []
        setter = Database(self.endpoint)

        def set_read_only() -> None:
            try:
                setter.execute("SET GLOBAL read_only = ON", timeout=seconds)
                result.append(None)
            except DBError as exc:
                result.append(exc)

        thread = threading.Thread(target=set_read_only, daemon=True)
        thread.start()
        thread.join(patience)
        deadline = time.monotonic() + seconds
        if thread.is_alive() and stop_clients is not None:
            stop_clients()
            while thread.is_alive() and time.monotonic() < deadline:
                self.kill(self.app_sessions(app_user))
                thread.join(0.05)
        thread.join(max(0.0, deadline - time.monotonic()))
        if not thread.is_alive():
            setter.close()
        if not result or result[0] is not None:
            raise DBError(f"read_only=ON did not take: {result[0] if result else 'timed out'}")
        # Read-only now: no session can commit, so none waits for an
        # acknowledgement; the application's sessions may go.
        self.kill(self.app_sessions(app_user))

    # ---- roles ---------------------------------------------------------------

    def set_semi_sync(self, on: bool) -> None:
        self.execute(f"SET GLOBAL rpl_semi_sync_master_enabled = {'ON' if on else 'OFF'}")

    def prepare_writes(self, semi: bool) -> None:
        """All that opening does before read_only goes off (that last step,
        OPEN_SQL, is the caller's, under its lock against a fence)."""
        self.set_semi_sync(semi)
        for clear in LEASE_CLEAR_SQL:
            try:
                self.execute(clear)
            except DBError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, pymysql.MySQLError)
                        and cause.args[:1] == (NO_SUCH_TABLE,)):
                    raise  # no table: no watch or gate yet (the agent makes them)

    def wait_for(self, what: str, test: Callable[[MariaDBState], bool],
                 seconds: float) -> MariaDBState:
        deadline = time.monotonic() + seconds
        while True:
            state = self.probe()
            if state.up and test(state):
                return state
            if time.monotonic() > deadline:
                raise DBError(f"timed out after {seconds:g}s waiting for {what}")
            time.sleep(0.01)

    def leave_replication_later(self) -> None:
        """STOP SLAVE and RESET SLAVE ALL on a connection of their own, in the
        background (the IO thread may take seconds to give up a dead master)."""

        if self._leaving.is_set():
            return
        self._leaving.set()

        def leave() -> None:
            other = Database(self.endpoint)
            try:
                other.execute("STOP SLAVE", timeout=30)
                other.execute("RESET SLAVE ALL", timeout=30)
            except DBError:
                pass  # the agent sees replication still configured and retries
            finally:
                other.close()
                self._leaving.clear()

        threading.Thread(target=leave, name="leave-replication", daemon=True).start()

    def follow(self, host: str, port: int, user: str, password: str,
               from_slave_pos: bool = False, semi_sync: bool = True,
               budget: float = 20.0) -> None:
        """Replicate from host by GTID, from everything this server has
        (current_pos: its own binlog too, if it was the primary), or from
        gtid_slave_pos alone (after a restore, which sets it). budget: the
        statements' timeouts add up to it (half for STOP SLAVE, which waits
        for the SQL thread's transaction and the IO thread's connection)."""
        use = "slave_pos" if from_slave_pos else "current_pos"
        stop, each = follow_timeouts(budget)
        self.execute("STOP SLAVE", timeout=stop)
        self.execute(
            "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
            f"MASTER_PASSWORD = %s, MASTER_USE_GTID = {use}, MASTER_CONNECT_RETRY = 1, "
            "MASTER_HEARTBEAT_PERIOD = 1, MASTER_SSL = 1, MASTER_SSL_CA = %s, "
            "MASTER_SSL_VERIFY_SERVER_CERT = 1", (host, port, user, password, AGENT_CA),
            timeout=each)
        # Acknowledge as a semi-sync replica (a former primary may have it off).
        self.execute(f"SET GLOBAL rpl_semi_sync_slave_enabled = {'ON' if semi_sync else 'OFF'}",
                     timeout=each)
        self.execute("START SLAVE", timeout=each)

    def start_replication(self) -> None:
        self.execute("START SLAVE")
