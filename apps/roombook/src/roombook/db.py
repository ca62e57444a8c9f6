"""Engine and sessions; migrations (Alembic) and sample data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from roombook.models import Room

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

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
    # Short timeouts: after a failover a dead connection must fail fast, and
    # pool_pre_ping replaces connections to the old primary.
    return create_engine(
        url, pool_pre_ping=True, pool_recycle=300, pool_size=10, max_overflow=20,
        connect_args={"connect_timeout": 3, "read_timeout": 30, "write_timeout": 30,
                      "charset": "utf8mb4"},
    )


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


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


def writable(engine: Engine) -> bool:
    """Whether the database accepts writes (a MariaDB replica is read_only)."""
    with engine.connect() as conn:
        if engine.dialect.name in ("mysql", "mariadb"):
            return conn.execute(text("SELECT @@read_only")).scalar() == 0
        conn.execute(text("SELECT 1"))
        return True
