"""The lease watch inside a real mariadbd on the rendered config
(agent/db_lease.py): a lease that runs out closes the server by itself, no
lease leaves it alone, and nothing of it reaches the binary log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hapair.agent import db_lease
from hapair.agent.db import Database, Endpoint
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
    server.open_for_writes(semi=False)  # no table yet
    assert not read_only(server)
    server.execute("SET GLOBAL read_only = ON")
    row = db_lease.LeaseRow(server)
    row.keep(time.time() - 10)  # an end long past, as a copied row holds
    row.write_once()
    server.open_for_writes(semi=False)
    assert closed_after(server, 1.0) is None
