"""How many times a booking talks to MariaDB: each command the driver sends
(a query, a COMMIT, a ping) is a round trip that a booking waits for, and
with semi-sync replication the commit is the one that also waits for the
standby."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql.connections
import pytest
from flask.testing import FlaskClient
from pymysql.constants.COMMAND import COM_PING

from roombook import db
from tests.roombook.conftest import MariaDB, future_day, make_app
from tests.roombook.test_mariadb import signed_in


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every command sent to the server from here on (the SQL text of a query)."""
    sent: list[str] = []
    real = pymysql.connections.Connection._execute_command

    def counting(self: pymysql.connections.Connection, command: int, sql: object) -> object:
        sent.append(sql.decode() if isinstance(sql, bytes) else str(sql) or f"command {command}")
        return real(self, command, sql)

    monkeypatch.setattr(pymysql.connections.Connection, "_execute_command", counting)
    yield sent


def book(client: FlaskClient, token: str, day: int, start: str, end: str,
         key: str | None = None) -> int:
    r = client.post("/api/bookings",
                    json={"room_id": 1, "date": future_day(day), "start": start, "end": end},
                    headers={"Authorization": f"Bearer {token}",
                             "Idempotency-Key": key or uuid.uuid4().hex})
    return r.status_code


def test_a_booking_is_three_round_trips(mariadb: MariaDB, tmp_path: Path,
                                        commands: list[str]) -> None:
    client, token = signed_in(mariadb, tmp_path)
    assert book(client, token, 200, "09:00", "10:00") == 201  # a warm pool, as in service
    commands.clear()
    assert book(client, token, 200, "10:00", "11:30") == 201
    assert len(commands) == 3 and commands[-1] == "COMMIT", commands


def test_a_signed_out_token_books_nothing(mariadb: MariaDB, tmp_path: Path) -> None:
    """The token is checked by the booking's own INSERT: once signed out, it
    books nothing, and a retry of a booking it made is not replayed to it."""
    client, token = signed_in(mariadb, tmp_path)
    key, *others = (uuid.uuid4().hex for _ in range(3))
    assert book(client, token, 201, "09:00", "10:00", key) == 201
    time.sleep(1.1)  # tokens carry whole seconds: one made in the sign-out's second survives
    assert client.post("/api/logout", headers={"Authorization": f"Bearer {token}"}
                       ).status_code == 200
    assert book(client, token, 201, "11:00", "12:00", others[0]) == 401
    assert book(client, token, 201, "09:00", "10:00", key) == 401  # the retry of a made one
    assert book(client, token, 201, "09:30", "10:30", others[1]) == 401  # a conflicting one
    # counted by this test's own keys: another test's bookings may fall on the same day
    keys = ", ".join(f"'{k}'" for k in (key, *others))
    assert mariadb.root("SELECT COUNT(*) FROM roombook.bookings "
                        f"WHERE idempotency_key IN ({keys})").strip() == "1"


def app_connections(mariadb: MariaDB) -> list[str]:
    return mariadb.root("SELECT id FROM information_schema.processlist WHERE user = 'rb' "
                        "AND db = 'roombook'").split()


def test_a_busy_connection_found_dead_is_retried(mariadb: MariaDB, tmp_path: Path,
                                                 commands: list[str]) -> None:
    """A connection in use a moment ago is not pinged; when the server lost
    it (a restart), the booking's statement fails, the pool drops it and the
    booking is tried again on a new one: the client sees no error."""
    client, token = signed_in(mariadb, tmp_path)
    assert book(client, token, 52, "09:00", "10:00") == 201
    for conn in app_connections(mariadb):
        mariadb.root(f"KILL CONNECTION {conn}")
    commands.clear()
    assert book(client, token, 52, "10:00", "11:00") == 201
    assert commands.count("COMMIT") == 1 and len(commands) > 3, commands  # one failed first


def test_an_idle_connection_is_pinged_and_holds_no_old_snapshot(
        mariadb: MariaDB, tmp_path: Path, commands: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After IDLE_PING_S unused, a connection is pinged before use; a read's
    transaction is rolled back when it ends, so the next request on the same
    connection sees what was committed since."""
    client, token = signed_in(mariadb, tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    assert book(client, token, 53, "09:00", "10:00") == 201
    before = len(client.get("/api/bookings", headers=headers).json)  # type: ignore[arg-type]
    assert book(client, token, 53, "10:00", "11:00") == 201
    assert len(client.get("/api/bookings", headers=headers).json) == before + 1  # type: ignore[arg-type]
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)
    commands.clear()
    assert book(client, token, 53, "11:00", "12:00") == 201
    assert commands[0] == f"command {COM_PING}", commands


def test_a_warmed_worker_serves_its_threads_without_connecting(mariadb: MariaDB,
                                                               tmp_path: Path) -> None:
    """wsgi's warm-up: a worker that just started (a node that has just
    rebooted and takes over at once) has a connection for each thread and
    its mappers configured before the first request: its first requests
    open no connection."""
    from sqlalchemy import event

    make_app(mariadb.url(), tmp_path)  # schema and rooms
    engine = db.make_engine(mariadb.url())
    opened: list[object] = []
    event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    db.warm(engine, db.sessions(engine, ""))
    assert len(opened) == db.WARM_CONNECTIONS and engine.pool.checkedin() == len(opened)
    held = [engine.connect() for _ in range(db.WARM_CONNECTIONS)]
    assert len(opened) == db.WARM_CONNECTIONS  # none new
    for conn in held:
        conn.close()
    engine.dispose()


def test_no_tls_to_a_server_on_this_host_unless_the_url_asks() -> None:
    """PyMySQL ≥ 1.2 shakes hands with any server that offers TLS, each new
    connection loading the system's CA bundle first: over loopback that
    guards nothing and costs every new connection (a fenced primary's
    requests in flight each reconnect)."""
    local = ("mysql+pymysql://rb:pw@127.0.0.1:3306/roombook",
             "mysql+pymysql://rb:pw@localhost/roombook",
             "mysql+pymysql://rb:pw@[::1]:3306/roombook",
             "mysql+pymysql://rb:pw@/roombook?unix_socket=/run/mysqld/mysqld.sock")
    for url in local:
        assert db.pymysql_args(url)["ssl_disabled"] is True, url
    for url in ("mysql+pymysql://rb:pw@10.54.0.10:3306/roombook",
                "mysql+pymysql://rb:pw@127.0.0.1/roombook?ssl_ca=/etc/mysql/ca.pem"):
        assert "ssl_disabled" not in db.pymysql_args(url), url
    assert db.pymysql_args(local[0])["connect_timeout"] == 3
