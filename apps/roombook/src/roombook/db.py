"""Engine and sessions; migrations (Alembic) and sample data."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from roombook.models import Booking, Room

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

RETRIES = 4
# MariaDB: deadlock, lock wait timeout; SQLite: database is locked.
TRANSIENT = (1213, 1205)


def is_transient(exc: OperationalError) -> bool:
    """A deadlock or lock wait, or a connection found dead on first use (the
    server restarted; the pool has dropped it): the same request may be sent
    again. A commit lost with its connection may have been applied; sent
    again, the idempotency key finds it and confirms it only if this copy
    accepts writes."""
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return (code in TRANSIENT or "database is locked" in str(exc.orig)
            or exc.connection_invalidated)


T = TypeVar("T")


def again(op: Callable[[], T], pause_s: float = 0.0) -> T:
    """op, tried again after a transient failure (is_transient: a deadlock,
    a lock wait, a connection found dead), up to RETRIES times in all, with
    pause_s more before each further try; anything else (a read-only
    server: a failover; a unique key: a conflict) at once."""
    for n in range(RETRIES):
        try:
            return op()
        except OperationalError as exc:
            if not is_transient(exc) or n == RETRIES - 1:
                raise
            time.sleep(pause_s * (n + 1))
    raise AssertionError("unreachable")


SAMPLE_ROOMS = (
    ("Ada", 4, "screen"),
    ("Babbage", 8, "screen, whiteboard"),
    ("Curie", 12, "projector, video conference"),
    ("Darwin", 20, "projector, microphones"),
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA journal_mode=WAL")

        return engine
    # Short timeouts: after a failover a dead connection must fail fast.
    # LIFO: the connections in use stay the same few, the rest idle (and are
    # pinged before their next use, see _lean_round_trips).
    engine = create_engine(
        url, pool_recycle=300, pool_size=10, max_overflow=20, pool_use_lifo=True,
        pool_reset_on_return=None, connect_args=pymysql_args(url),
    )
    _lean_round_trips(engine)
    return engine


# A server on this host: over loopback or its socket, TLS guards nothing.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def pymysql_args(url: str) -> dict[str, Any]:
    """PyMySQL's arguments for a MariaDB URL: short timeouts, and no TLS to a
    server on this host unless the URL asks for it (an ssl_* option). Since
    PyMySQL 1.2 a connection uses TLS whenever the server offers it, and
    builds for it a context that loads the system's whole CA bundle: 70 ms
    of CPU for every new connection on this host, before the handshake. A
    fenced primary kills the application's sessions, and each request in
    flight reconnected to be told the database is read-only: its 503 took
    0.35-0.73 s in the demo lab's switchovers, 0.01-0.10 s without TLS."""
    parsed = make_url(url)
    args: dict[str, Any] = {"connect_timeout": 3, "read_timeout": 30, "write_timeout": 30,
                            "charset": "utf8mb4"}
    local = parsed.host is None or parsed.host in LOOPBACK or "unix_socket" in parsed.query
    if local and not any(key.startswith("ssl") for key in parsed.query):
        args["ssl_disabled"] = True
    return args


# A connection unused this long is pinged before it is handed out.
IDLE_PING_S = 1.0


def _lean_round_trips(engine: Engine) -> None:
    """No round trip that a booking does not need, where SQLAlchemy's
    defaults spend two: a ping at every checkout (pool_pre_ping) and a
    ROLLBACK at every return, even after a COMMIT. Here a connection is pinged
    only after IDLE_PING_S unused (a busy one that died fails its statement,
    which drops the pool's older connections and is retried: see
    booking.is_transient), and rolled back on return only while a
    transaction is open on it: one begun and neither committed nor rolled
    back."""

    def opened(conn: Connection) -> None:
        conn.info["open"] = True

    def closed(conn: Connection) -> None:
        if not conn.invalidated:  # a dropped connection is not reused
            conn.info["open"] = False

    event.listen(engine, "begin", opened)
    event.listen(engine, "commit", closed)
    event.listen(engine, "rollback", closed)

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned", 0.0) < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"an idle connection is dead: {exc}") from exc

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
        if record.info.pop("open", True) and not state.terminate_only:
            dbapi_conn.rollback()
        record.info["returned"] = time.monotonic()


def sessions(engine: Engine, mail_domain: str = "") -> sessionmaker[Session]:
    """mail_domain: the site sends mail (outbox.queue writes to the outbox)."""
    return sessionmaker(engine, expire_on_commit=False, info={"mail_domain": mail_domain})


def upgrade(url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def seed_rooms(maker: sessionmaker[Session]) -> int:
    with maker.begin() as s:
        if s.scalar(select(Room.id).limit(1)) is not None:
            return 0
        now = datetime.now(UTC).replace(tzinfo=None)
        s.add_all(Room(name=n, capacity=c, equipment=e, created_at=now)
                  for n, c, e in SAMPLE_ROOMS)
        return len(SAMPLE_ROOMS)


WARM_CONNECTIONS = 4  # gunicorn's threads per worker (hapair's default)


def warm(engine: Engine, maker: sessionmaker[Session]) -> None:
    """Ready before the first request, not during it: the ORM's mappers
    configured, its queries of rooms and bookings compiled once, and the pool
    holding a connection for each of the worker's threads. Best effort: a
    database that is down now is connected to later, as before."""
    configure_mappers()
    try:
        conns = [engine.connect() for _ in range(WARM_CONNECTIONS)]
        for conn in conns:
            conn.close()  # back to the pool, open
        with maker() as session:
            session.execute(select(Room).limit(1)).all()
            session.execute(select(Booking).limit(1)).all()
    except DBAPIError:
        pass


def writable(engine: Engine) -> bool:
    """Whether the database accepts writes (a MariaDB replica is read_only)."""
    with engine.connect() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            return conn.execute(text("SELECT @@read_only")).scalar() == 0
        conn.execute(text("SELECT 1"))
        return True
