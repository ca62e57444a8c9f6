"""The migrations make exactly the models' schema: Alembic's own comparison
(what `alembic revision --autogenerate` would write) finds nothing to add,
drop or change, on SQLite and on a real MariaDB. A model changed without its
migration, or a migration that drifted from the model, fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from roombook.db import upgrade
from roombook.models import Base
from sqlalchemy import create_engine

from tests.support.servers import MariaDB


def differences(url: str) -> list[Any]:
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": False})
            found = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # Alembic's own bookkeeping table is the migrations', not a model's.
    return [d for d in found if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_the_migrations_make_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    assert differences(f"sqlite:///{tmp_path / 'schema.db'}") == []


def test_the_migrations_make_the_models_schema_on_mariadb(mariadb: MariaDB) -> None:
    # A database of its own (the others hold the other tests' data).
    mariadb.root("DROP DATABASE IF EXISTS roombook_schema; CREATE DATABASE roombook_schema "
                 "CHARACTER SET utf8mb4")
    assert differences(mariadb.url("roombook_schema")) == []
