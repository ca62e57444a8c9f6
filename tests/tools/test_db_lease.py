"""The lease watch inside a real mariadbd on the rendered config
(agent/node/db_lease.py): a lease that runs out closes the server by itself, no
lease leaves it alone, and nothing of it reaches the binary log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hapair.agent.node import db_lease, write_gate
from hapair.agent.node.db import OPEN_SQL, Database, DBError, Endpoint
from hapair.model import gate as contract
from tests.tools.conftest import mariadbd


@pytest.fixture
def server(rendered: dict[str, Path], tmp_path: Path) -> Iterator[Database]:
    cnf = rendered["lab"] / "node1" / "etc/mysql/mariadb.conf.d/60-hapair.cnf"
    with mariadbd(cnf, tmp_path) as sock:
        db = Database(Endpoint("root", "", socket=str(sock)))
        db.execute("CREATE DATABASE hapair")  # as apply's bootstrap does
        yield db
        db.close()


def read_only(db: Database) -> bool:
    return int(db.one("SELECT @@GLOBAL.read_only AS ro")["ro"]) == 1


def closed_after(db: Database, seconds: float) -> float | None:
    """When the server turned read-only (s from now), if it did within seconds."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if read_only(db):
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def sampled(db: Database, sql: str) -> int:
    return int(next(iter(db.one(sql).values())))


def test_a_lease_that_runs_out_closes_the_server_and_none_leaves_it_alone(
        server: Database) -> None:
    binlog = server.one("SELECT @@gtid_binlog_pos AS p")["p"]
    row = db_lease.LeaseRow(server)
    assert server.one("SELECT @@GLOBAL.event_scheduler AS s")["s"] == "ON"  # the config's
    server.execute("SET GLOBAL read_only = OFF")
    row.keep(None)  # no lease binds
    row.write_once()  # the row's thread: installs the watch, writes the row
    assert row.installed and row.known
    assert closed_after(server, 1.5) is None
    row.keep(time.time() + 0.3)
    row.write_once()
    closed = closed_after(server, 2.0)
    assert closed is not None and 0.25 <= closed <= 0.3 + 0.15, closed
    # Installed again (an agent restarting): the watch is there once, unchanged.
    db_lease.install(server)
    assert server.one("SELECT COUNT(*) AS n FROM information_schema.EVENTS")["n"] == 1
    server.execute("SET GLOBAL read_only = OFF")
    row.keep(time.time() + 60)  # renewed: open
    row.write_once()
    assert closed_after(server, 1.2) is None
    # Neither the table, the event nor the writes are in the binary log:
    # on a replica they would be errant transactions.
    assert server.one("SELECT @@gtid_binlog_pos AS p")["p"] == binlog
    # The watch's own closing, once, with how long after the lease's end.
    closings = [row.closed(), row.closed()]
    assert closings[1] is None and closings[0] is not None, closings
    assert 0 <= closings[0][1] <= 0.1, closings


def test_the_scheduler_is_turned_on_on_a_server_started_without_it(server: Database) -> None:
    server.execute("SET GLOBAL event_scheduler = OFF")
    db_lease.LeaseRow(server).write_once()
    assert server.one("SELECT @@GLOBAL.event_scheduler AS s")["s"] == "ON"


def test_a_node_that_opens_is_not_closed_by_a_row_from_another_life_of_its_data(
        server: Database) -> None:
    """A rebuilt node holds the primary's row as it was at the backup (a
    restored one, its backup's): opening empties it first, or the watch
    would close the new primary at once. Before the agent made the table,
    opening works all the same."""
    server.execute("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
    _open(server)  # no table yet
    assert not read_only(server)
    server.execute("SET GLOBAL read_only = ON")
    row = db_lease.LeaseRow(server)
    row.keep(time.time() - 10)  # an end long past, as a copied row holds
    row.write_once()
    _open(server)
    assert closed_after(server, 1.0) is None


def test_a_stale_lease_refuses_a_write_whatever_closes_the_server(server: Database) -> None:
    """The write gate (agent/node/write_gate.py): with no lease watch at all (as
    on a machine whose server has not yet had a thread scheduled), a writable
    server whose lease has run out refuses the application's writes with the
    read-only error, inside the statement; a lease that binds nothing, or a
    server that is read-only (a replica, whose replication thread must never
    be refused), leaves writes alone."""
    server.execute("CREATE DATABASE app")
    server.execute("CREATE TABLE app.bookings (id INT PRIMARY KEY, title VARCHAR(20))")
    server.execute("CREATE TABLE app.`odd``name` (id INT PRIMARY KEY)")
    gate = write_gate.GateRow(server, "app")
    gate.install()  # its copy of the lease's end; no watch at all

    def lease(until: float | None) -> None:
        server.execute(write_gate.WRITE_SQL, (until,))

    server.execute("SET GLOBAL read_only = OFF")
    lease(None)
    assert sampled(server, contract.ready_sql("app")) == 0  # the drill's sampler: not yet
    assert write_gate.ensure(server, "app") == 6
    assert sampled(server, contract.ready_sql("app")) == 1
    binlog = server.one("SELECT @@gtid_binlog_pos AS p")["p"]
    server.execute("INSERT INTO app.bookings VALUES (1, 'open')")  # no lease binds
    lease(time.time() - 0.01)  # run out
    for sql in ("INSERT INTO app.bookings VALUES (2, 'late')",
                "UPDATE app.bookings SET title = 'late' WHERE id = 1",
                "DELETE FROM app.bookings WHERE id = 1",
                "INSERT INTO app.`odd``name` VALUES (1)"):
        with pytest.raises(DBError, match="1290"):
            server.execute(sql)
    assert not read_only(server)  # refused by the gate, not by read_only
    assert sampled(server, contract.SAMPLE_SQL) == 2
    assert server.one("SELECT COUNT(*) AS n FROM app.bookings")["n"] == 1
    server.execute("SET GLOBAL read_only = ON")  # a replica: never refused
    server.execute("INSERT INTO app.bookings VALUES (3, 'applied')")
    assert sampled(server, contract.SAMPLE_SQL) == 1
    server.execute("SET GLOBAL read_only = OFF")
    lease(time.time() + 60)  # renewed
    server.execute("INSERT INTO app.bookings VALUES (4, 'renewed')")
    assert sampled(server, contract.SAMPLE_SQL) == 0
    # The gate is this server's own: the binary log holds the application's
    # writes, never a trigger.
    assert server.one("SELECT @@gtid_binlog_pos AS p")["p"] != binlog
    events = server.rows("SHOW BINLOG EVENTS")
    assert events and not any("TRIGGER" in str(e.get("Info", "")).upper() for e in events)
    # Looked at again: nothing more to make; a table added later is gated;
    # the agent's thread does it too.
    assert write_gate.ensure(server, "app") == 0
    server.execute("CREATE TABLE app.later (id INT PRIMARY KEY)")
    gate.write_once()
    gate.now_and_then()
    assert sampled(server, contract.ready_sql("app")) == 1


def test_an_open_write_holds_back_the_gate_not_the_watch_and_refuses_nothing(
        server: Database) -> None:
    """A transaction that wrote through the gate and has not committed (its
    commit waits for an acknowledgement) holds the gate's row (a locking
    read), not the watch's: the watch's renewal goes through at once (it once
    waited until the watch closed the server); the gate's waits for the
    commit, and a write that comes meanwhile waits behind it and is then
    let through, not refused."""
    server.execute("CREATE DATABASE app")
    server.execute("CREATE TABLE app.bookings (id INT PRIMARY KEY)")
    gate, row = write_gate.GateRow(server, "app"), db_lease.LeaseRow(server)
    for r in (gate, row):
        r.keep(time.time() + 0.6)
        r.write_once()
    write_gate.ensure(server, "app")
    server.execute("SET GLOBAL read_only = OFF")
    app = Database(server.endpoint)
    app.execute("BEGIN")
    app.execute("INSERT INTO app.bookings VALUES (1)")  # its trigger read the gate's row
    start = time.monotonic()
    Database(server.endpoint).execute(db_lease.WRITE_SQL, (time.time() + 60,))
    assert time.monotonic() - start < 0.5  # the watch's row: at once
    done: list[str] = []

    def run(sql: str, *args: object) -> None:
        try:
            Database(server.endpoint).execute(sql, args, timeout=20)
            done.append(sql)
        except DBError as exc:
            done.append(str(exc))

    renewal = threading.Thread(target=run, args=(write_gate.WRITE_SQL, time.time() + 60))
    renewal.start()
    time.sleep(1.0)  # the gate's old end has passed meanwhile
    other = threading.Thread(target=run, args=("INSERT INTO app.bookings VALUES (2)",))
    other.start()
    time.sleep(0.3)
    assert done == []  # both wait for the open transaction
    app.execute("COMMIT")
    renewal.join(5)
    other.join(5)
    assert sorted(done) == sorted([write_gate.WRITE_SQL, "INSERT INTO app.bookings VALUES (2)"])


def test_the_watch_ends_every_few_seconds_and_the_next_takes_over_without_a_pause(
        server: Database) -> None:
    """Each instance of the event watches RUN_S, then ends (so that one the
    scheduler starts during a shutdown cannot hold the shutdown for ever);
    one already waiting on the lock takes over at once: a lease ending just
    after a hand-off still closes the server within the watch's bound."""
    row = db_lease.LeaseRow(server)
    row.keep(None)
    row.write_once()
    for n in range(3):  # ends spread across several instances' lives
        server.execute("SET GLOBAL read_only = OFF")
        end = time.time() + db_lease.RUN_S * 0.7 + n * 0.37
        row.keep(end)
        row.write_once()
        closed = closed_after(server, db_lease.RUN_S + 2)
        assert closed is not None, n
        assert time.time() - end < 0.2, (n, time.time() - end)
    threads = server.rows("SELECT ID FROM information_schema.PROCESSLIST "
                          "WHERE INFO LIKE '%SLEEP%' OR STATE LIKE '%lock%'")
    assert len(threads) <= 1 + db_lease.LOCK_WAIT_S + 1, threads  # the watch, the waiting


def _open(server: Database) -> None:
    """What an opening does (act.open_writes, without its lock)."""
    server.prepare_writes(semi=False)
    server.execute(OPEN_SQL)
